"""What every benchmark prints with: progress on stderr, nearest-rank percentiles."""

import math
import sys


def progress(text: str) -> None:
    """A line on stderr, so stdout keeps only the figures (the last line JSON)."""
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered)))) - 1]
