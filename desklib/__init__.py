"""Pure helpers (mail decoding, subjects, job dispatch) shared by every layer.

Nothing here imports the apps' models, so each module is testable alone.
"""
