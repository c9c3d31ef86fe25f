"""The MSPs we work for, the addresses they mail us at, and how their work is treated."""

from .calendar import BusinessCalendar, BusinessHours, CalendarException
from .client import (
    DEFAULT_PSA_TICKET_PATTERNS,
    Client,
    DedicatedAddress,
    PortalMembership,
    PsaKind,
    normalise_address,
    validate_regex,
    validate_timezone,
    without_tag,
)
from .coverage import CoverageKind, CoverageWindow, is_covered
from .rules import IntakeRule, Level
from .sla import SlaPolicy, SlaTarget

__all__ = [
    "BusinessCalendar",
    "BusinessHours",
    "CalendarException",
    "CoverageKind",
    "CoverageWindow",
    "is_covered",
    "SlaPolicy",
    "SlaTarget",
    "DEFAULT_PSA_TICKET_PATTERNS",
    "Client",
    "DedicatedAddress",
    "IntakeRule",
    "Level",
    "PortalMembership",
    "PsaKind",
    "normalise_address",
    "validate_regex",
    "validate_timezone",
    "without_tag",
]
