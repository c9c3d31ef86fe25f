"""A local PSA for development, tests and the benchmark (core.py; one module per PSA)."""

from .core import Faults, Limits, Simulator

__all__ = ["Faults", "Limits", "Simulator"]
