"""Pure helpers (mail decoding, alert fingerprints, business time) shared by every layer.

Nothing here imports the apps' models, so each module is testable alone. One
exception to "pure": jobs.py reads Django settings to choose between RQ and
running a job inline.
"""
