"""PSA connections (per client) and the write-back outbox."""

from .connection import DEFAULT_LIMITS, BillableOption, MemberMapping, PsaConnection
from .writeback import Attempt, AttemptOutcome, Operation, WriteBack, WriteBackState

__all__ = [
    "DEFAULT_LIMITS",
    "Attempt",
    "AttemptOutcome",
    "BillableOption",
    "MemberMapping",
    "Operation",
    "PsaConnection",
    "WriteBack",
    "WriteBackState",
]
