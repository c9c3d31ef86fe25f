"""Mail intake: store first, then route, de-duplicate, classify, thread, fold, apply rules.

One small module per stage; `pipeline.process_inbound` runs them in order and is
the only entry point, shared by the webhooks and `manage.py ingest_eml`.
"""
