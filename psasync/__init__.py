"""PSA write-back: connections, the outbox and one connector per PSA (a later issue)."""
