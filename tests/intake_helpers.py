from tickets.intake.pipeline import IntakeResult, process_inbound
from tickets.intake.store import store_raw_mail


def ingest(raw: bytes, to: str = "", provider: str = "test") -> IntakeResult:
    """Store and process one mail exactly as the webhooks and ingest_eml do."""
    return process_inbound(store_raw_mail(raw, provider=provider, envelope_recipient=to))
