"""Business-time arithmetic on a calendar of weekly hours, holidays and exceptions.

All instants in and out are aware UTC datetimes. Opening hours are wall-clock
times in the calendar's IANA zone; each day's windows are turned into UTC
intervals with zoneinfo, so a duration counts real elapsed time and stays right
across daylight-saving changes (an hour of work on the night the clocks go back
is an hour, not two). A window whose end is not after its start crosses
midnight and belongs to the day it opened: Friday 22:00-06:00 runs into
Saturday, even when Saturday is a holiday.

A wall-clock time that does not exist (inside the spring-forward gap) is read
with the offset before the change, i.e. the instant the clock jumps past it.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Window = tuple[time, time]
_MAX_DAYS = 3 * 366  # a calendar open less than this is treated as never open


class NeverOpen(ValueError):
    """The calendar has no open time within three years of the start."""


@dataclass(frozen=True)
class Calendar:
    """When work counts. `weekly[d]` lists the windows of weekday d (0 = Monday).

    `closed` dates have no windows (holidays, closures); `overrides` replace a
    date's windows (a half day). An override wins over a closure.
    """

    zone: str = "UTC"
    weekly: dict[int, tuple[Window, ...]] = field(default_factory=dict)
    closed: frozenset[date] = frozenset()
    overrides: dict[date, tuple[Window, ...]] = field(default_factory=dict)
    always_open: bool = False

    @classmethod
    def twenty_four_seven(cls) -> "Calendar":
        return cls(always_open=True)

    def windows_on(self, day: date) -> tuple[Window, ...]:
        if day in self.overrides:
            return self.overrides[day]
        if day in self.closed:
            return ()
        return self.weekly.get(day.weekday(), ())


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in `zone` shows `at` on `day`; inside a spring-forward
    gap (a time that never shows), the instant the clock jumps past it."""
    wall = datetime.combine(day, at)
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In the gap: the jump lies between the two readings of the wall time.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = instant
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def open_intervals(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open (start, end) UTC intervals from `start` on, in order, merged where they touch."""
    if calendar.always_open:
        yield start, datetime.max.replace(tzinfo=UTC)
        return
    zone = ZoneInfo(calendar.zone)
    # Begin a day early: yesterday's window may cross midnight into today.
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    pending: tuple[datetime, datetime] | None = None
    for offset in range(_MAX_DAYS + 2):
        if not calendar.weekly and not calendar.overrides:
            return  # never open: nothing to find, however far one looks
        day = first_day + timedelta(days=offset)
        todays = []
        for opens, closes in calendar.windows_on(day):
            end_day = day if closes > opens else day + timedelta(days=1)
            todays.append((_utc(day, opens, zone), _utc(end_day, closes, zone)))
        for begin, end in sorted(todays):
            if end <= start or end <= begin:
                continue
            begin = max(begin, start)
            if pending and begin <= pending[1]:
                pending = (pending[0], max(pending[1], end))
                continue
            if pending:
                yield pending
            pending = (begin, end)
    if pending:
        yield pending


def add_business_time(calendar: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant when `duration` of open time has passed since `start`."""
    if duration <= timedelta(0):
        return start
    remaining = duration
    for begin, end in open_intervals(calendar, start):
        if end - begin >= remaining:
            return begin + remaining
        remaining -= end - begin
    raise NeverOpen(f"no {duration} of open time within {_MAX_DAYS} days of {start}")


def business_time_between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """Open time between two instants (zero when `end` is not after `start`)."""
    total = timedelta(0)
    if end <= start:
        return total
    for begin, close in open_intervals(calendar, start):
        if begin >= end:
            break
        total += min(close, end) - begin
    return total


def is_open(calendar: Calendar, at: datetime) -> bool:
    """Whether the instant falls in an open window."""
    if calendar.always_open:
        return True
    first = next(open_intervals(calendar, at), None)
    return first is not None and first[0] <= at


def weekly_from_rows(rows: Iterable[tuple[int, time, time]]) -> dict[int, tuple[Window, ...]]:
    """{weekday: windows} from (weekday, opens, closes) rows, as a model stores them."""
    weekly: dict[int, list[Window]] = {}
    for weekday, opens, closes in rows:
        weekly.setdefault(weekday, []).append((opens, closes))
    return {d: tuple(sorted(ws)) for d, ws in weekly.items()}
