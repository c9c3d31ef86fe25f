"""Telephony: dedicated numbers, calls and the call queue (a later issue)."""
