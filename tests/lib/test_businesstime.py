"""Business-time arithmetic: office hours, night windows, holidays, daylight saving."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from desklib.businesstime import (
    Calendar,
    NeverOpen,
    add_business_time,
    business_time_between,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = {d: ((time(9), time(17)),) for d in range(5)}


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def test_office_hours_roll_over_the_weekend():
    cal = Calendar("Europe/London", OFFICE)
    due = add_business_time(cal, local(LONDON, 2026, 12, 4, 16), hours(2))  # Friday 16:00
    assert due.astimezone(LONDON) == datetime(2026, 12, 7, 10, tzinfo=LONDON)  # Monday 10:00


def test_a_start_before_opening_counts_from_opening():
    cal = Calendar("Europe/London", OFFICE)
    due = add_business_time(cal, local(LONDON, 2026, 12, 1, 6), hours(1))
    assert due.astimezone(LONDON) == datetime(2026, 12, 1, 10, tzinfo=LONDON)


def test_twenty_four_seven_is_plain_elapsed_time_across_daylight_saving():
    cal = Calendar.twenty_four_seven()
    start = local(LONDON, 2026, 3, 28, 12)
    assert add_business_time(cal, start, hours(24)) == start + hours(24)
    # Saturday noon + 24h is Sunday 13:00 on the wall clock: the clocks went forward.
    assert add_business_time(cal, start, hours(24)).astimezone(LONDON).hour == 13


def test_a_night_window_is_shorter_when_london_springs_forward():
    # Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
    cal = Calendar("Europe/London", {5: ((time(22), time(6)),)})  # Saturday 22:00-06:00
    start = local(LONDON, 2026, 3, 28, 22)
    end = local(LONDON, 2026, 3, 29, 6)
    assert business_time_between(cal, start, end) == hours(7)
    assert add_business_time(cal, start, hours(7)).astimezone(LONDON).hour == 6


def test_a_night_window_is_longer_when_london_falls_back():
    # Clocks go back at 01:00 GMT on Sunday 25 October 2026.
    cal = Calendar("Europe/London", {5: ((time(22), time(6)),)})
    start = local(LONDON, 2026, 10, 24, 22)
    assert business_time_between(cal, start, local(LONDON, 2026, 10, 25, 6)) == hours(9)
    due = add_business_time(cal, start, hours(9))
    assert due.astimezone(LONDON) == datetime(2026, 10, 25, 6, tzinfo=LONDON)


def test_new_york_office_hours_across_the_spring_change():
    # Clocks go forward on Sunday 8 March 2026: Friday is EST, Monday EDT.
    cal = Calendar("America/New_York", OFFICE)
    due = add_business_time(cal, local(NEW_YORK, 2026, 3, 6, 16), hours(2))
    assert due == datetime(2026, 3, 9, 14, tzinfo=UTC)  # Monday 10:00 EDT


def test_new_york_office_hours_across_the_autumn_change():
    # Clocks go back on Sunday 1 November 2026: Friday is EDT, Monday EST.
    cal = Calendar("America/New_York", OFFICE)
    due = add_business_time(cal, local(NEW_YORK, 2026, 10, 30, 16), hours(2))
    assert due == datetime(2026, 11, 2, 15, tzinfo=UTC)  # Monday 10:00 EST


def test_a_window_crossing_midnight_belongs_to_the_day_it_opened():
    cal = Calendar("Europe/London", {4: ((time(22), time(6)),)})  # Friday nights only
    saturday_1am = local(LONDON, 2026, 12, 5, 1)
    assert business_time_between(cal, saturday_1am, local(LONDON, 2026, 12, 5, 12)) == hours(5)
    # The next open time after Saturday 06:00 is the following Friday 22:00.
    due = add_business_time(cal, local(LONDON, 2026, 12, 5, 7), hours(1))
    assert due.astimezone(LONDON) == datetime(2026, 12, 11, 23, tzinfo=LONDON)


def test_adjacent_windows_merge_into_one_stretch():
    weekly = {d: ((time(0), time(8)), (time(8), time(0))) for d in range(7)}
    cal = Calendar("Europe/London", weekly)
    start = local(LONDON, 2026, 12, 1, 7)
    assert add_business_time(cal, start, hours(3)) == start + hours(3)


def test_holidays_are_closed():
    cal = Calendar("Europe/London", OFFICE, closed=frozenset({date(2026, 12, 25)}))
    due = add_business_time(cal, local(LONDON, 2026, 12, 24, 16), hours(2))
    assert due.astimezone(LONDON) == datetime(2026, 12, 28, 10, tzinfo=LONDON)


def test_an_override_replaces_the_days_hours():
    cal = Calendar(
        "Europe/London",
        OFFICE,
        closed=frozenset({date(2026, 12, 24)}),
        overrides={date(2026, 12, 24): ((time(9), time(12)),)},  # Christmas Eve half day
    )
    start = local(LONDON, 2026, 12, 24, 9)
    assert business_time_between(cal, start, local(LONDON, 2026, 12, 24, 17)) == hours(3)


def test_business_time_between_skips_closed_time():
    cal = Calendar("Europe/London", OFFICE)
    friday_3pm = local(LONDON, 2026, 12, 4, 15)
    monday_11am = local(LONDON, 2026, 12, 7, 11)
    assert business_time_between(cal, friday_3pm, monday_11am) == hours(4)
    assert business_time_between(cal, monday_11am, friday_3pm) == timedelta(0)


def test_a_calendar_that_never_opens_says_so():
    with pytest.raises(NeverOpen):
        add_business_time(Calendar("Europe/London", {}), local(LONDON, 2026, 12, 1, 9), hours(1))
