"""Per-caller token buckets: each organisation may query at its agreed rate, with a bounded burst.

Written by hand (30 lines) because the service must tell a refused caller exactly how long to wait
(`Retry-After`), which the rate-limit libraries at hand either do not expose or tie to their own storage backends.
"""

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_second: float
    burst: int
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take `cost` tokens; 0 when granted, else the seconds to wait until they would be."""
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate_per_second)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate_per_second


class RateLimiter:
    """One bucket per caller, created on first use with the caller's own rate and burst."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, caller: str, rate_per_second: float, burst: int) -> int:
        """0 when the call may proceed; else whole seconds to put in `Retry-After` (at least 1)."""
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None or (bucket.rate_per_second, bucket.burst) != (rate_per_second, burst):
                bucket = self._buckets[caller] = TokenBucket(rate_per_second, burst)
            wait = bucket.take(time.monotonic())
        return 0 if wait == 0 else max(1, math.ceil(wait))
