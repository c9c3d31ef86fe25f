"""Regular expressions written by SDMs (intake rules, PSA number patterns), run safely.

They run on every mail, so a pattern that backtracks catastrophically must not
stall intake: the `regex` package guards against most such patterns and stops
any search at a time limit; a search that runs out counts as no match, and the
caller says so where the SDM looks.
"""

import logging

import regex

log = logging.getLogger(__name__)
TIME_LIMIT_S = 0.25
MAX_TEXT = 200_000  # rules look at the first 200 kB of a body


class PatternTimeout(Exception):
    pass


def compile_check(pattern: str) -> None:
    """Raise ValueError with the reason when `pattern` is not a valid expression."""
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(str(exc)) from exc


def search(pattern: str, text: str) -> "regex.Match | None":
    """Case-insensitive search; raises PatternTimeout when it takes too long."""
    try:
        return regex.search(pattern, text[:MAX_TEXT], regex.IGNORECASE, timeout=TIME_LIMIT_S)
    except TimeoutError as exc:
        log.warning("pattern %r timed out after %ss", pattern, TIME_LIMIT_S)
        raise PatternTimeout(pattern) from exc
