"""Per-connection limits, shared by every worker through Redis.

- A moving-window rate limit on requests (the `limits` library), so we stay under
  what the PSA allows instead of collecting 429s.
- A line for the sends the limit turned away: each is given its own turn, one
  request's share of the window after the one before, so they come back spread
  out at the rate the PSA allows, not all at once when the window moves (where
  all but a few would be turned away again, and the rest of the queue waits
  behind them).
- A cap on requests in flight, as slots held with redis-py locks; a lock expires
  on its own if the worker holding it dies.

Without Redis (inline jobs, one process) there is nothing to share: no limits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

MAX_SLEEP = 5.0  # wait this long in the job for a token; longer, give the worker back
SLOT_LEASE = 180  # seconds; beyond any job's run (the psa job timeout is 120 s)
EDGE_MARGIN = 1  # s: the PSA counts a request when it arrives, later than we do


class Deferred(Exception):
    """Not now: our own limit for this connection is reached. Try again in `seconds`."""

    def __init__(self, seconds: float, why: str) -> None:
        super().__init__(why)
        self.seconds = seconds
        self.why = why


@cache
def _limiter(url: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(RedisStorage(url))


def _redis():
    import django_rq

    return django_rq.get_connection("psa")


def request_gate(
    key: str, requests: int, per_seconds: int, sleep: Callable[[float], None] = time.sleep
) -> Callable[[object], None]:
    """An httpx request hook that takes a token before every request to the PSA."""
    if not settings.REDIS_URL:
        return lambda request: None
    # Our window is a little longer than the PSA's, so a request we counted early in one
    # window never lands in the PSA's next one together with that window's full quota.
    item = RateLimitItemPerSecond(requests, per_seconds + EDGE_MARGIN)
    limiter = _limiter(settings.REDIS_URL)

    def before_request(request: object) -> None:
        while not limiter.hit(item, "psa", key):
            stats = limiter.get_window_stats(item, "psa", key)
            now = time.time()
            wait = max(0.01, stats.reset_time - now)
            if wait > MAX_SLEEP:
                turn = take_turn(key, earliest=now + wait, every=item.get_expiry() / requests)
                why = f"our rate limit ({requests} per {per_seconds} s) is reached"
                raise Deferred(turn - now, why)
            sleep(wait + random.uniform(0, 0.05))

    return before_request


# The line's next free turn (a Unix time) moves on by `every` with each turn given; the
# line is forgotten ten minutes after its last turn.
_TAKE_TURN = """
local turn = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1]))
local after = turn + tonumber(ARGV[2])
local ttl = math.ceil((after - tonumber(ARGV[3]) + 600) * 1000)
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', ttl)
return string.format('%.3f', turn)
"""


def take_turn(key: str, earliest: float, every: float) -> float:
    """The time (Unix) at which a send turned away by the limit of `key` should try
    again: `earliest`, or `every` seconds after the last turn given, whichever is later."""
    script = _redis().register_script(_TAKE_TURN)
    return float(script(keys=[f"psa:turn:{key}"], args=[earliest, every, time.time()]))


@contextmanager
def in_flight_slot(key: str, slots: int) -> Iterator[None]:
    """Hold one of `slots` for the block; Deferred when all are taken."""
    if not settings.REDIS_URL:
        yield
        return
    redis = _redis()
    order = list(range(slots))
    random.shuffle(order)  # spread the tries over the slots
    for index in order:
        lock = redis.lock(f"psa:slot:{key}:{index}", timeout=SLOT_LEASE, blocking=False)
        if lock.acquire():
            try:
                yield
            finally:
                with suppress(Exception):  # expired meanwhile: nothing to release
                    lock.release()
            return
    raise Deferred(
        0.5 + random.uniform(0, 0.5), f"{slots} request(s) already in flight to this PSA"
    )
