"""Requests a minute per API key, counted with the `limits` library.

In one process the counts live in memory; with `redis://...` every API process shares them.
If the shared store cannot be reached, requests are let through and the failure is logged:
clinics must reach their records even when the rate-limit store is down.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)

# where get_principal leaves a request's Decision (in its ASGI scope's state) for the
# X-RateLimit-* headers of its answer (middleware.RateLimitHeaders)
STATE_KEY = "rate_limit"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # UNIX seconds when a request is allowed again

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> list[tuple[bytes, bytes]]:
        """What every answer to a counted request tells the client, so it can pace itself."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
        ]


class RateLimiter:
    def __init__(self, storage_uri: str, per_minute: int, key_prefix: str = "clinifile") -> None:
        # in memory, a hit is a few microseconds and never waits; with Redis it is a round trip
        self.in_memory = storage_uri.startswith("memory")
        options = {"key_prefix": key_prefix} if storage_uri.startswith(("redis", "rediss")) else {}
        self._storage: Any = storage_from_string(storage_uri, **options)
        # a sliding-window counter: two counters a key (a moving window keeps every hit of the
        # last minute: at 2,000 requests/s, 120,000 timestamps for one busy key)
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._item = RateLimitItemPerMinute(per_minute)

    def hit(self, identity: str) -> Decision:
        """Counts one request of identity (an API key's hash, never the key)."""
        try:
            allowed = self._limiter.hit(self._item, identity)
            stats = self._limiter.get_window_stats(self._item, identity)
        except Exception as error:  # the store is down: let the request through
            log.warning("rate limit store unavailable (%s); request not counted", error)
            return Decision(True, self._item.amount, self._item.amount, int(time.time()) + 60)
        return Decision(
            allowed=allowed,
            limit=self._item.amount,
            remaining=max(0, stats.remaining),
            reset_at=math.ceil(stats.reset_time),
        )
