"""Built reports kept for up to five minutes per area and filters.

At a district's scale a report counts hundreds of thousands of doses (seconds on SQLite: docs/benchmarks.md) and the
same dashboard is opened again and again. An entry is dropped as soon as the data's version changes — the highest id
of the doses, the register's answers, the imports and the reported figures, one index look-up each
(`reconciliation.service.version`) — and after `ttl` seconds in any case: a change that adds no row (a duplicate marked,
a facility moved; a corrected identity adds the register's new answer) shows at most five minutes late. Building a
district's report takes seconds on SQLite (docs/benchmarks.md): rebuilding it every minute for nothing would be worse.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class ReportCache:
    def __init__(self, ttl: float = 300.0, size: int = 128) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build[T](self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        """The entry for `key` if it was built for `version` less than `ttl` seconds ago, else `build()` (kept)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] == version and now - entry[0] < self.ttl:
                self._entries.move_to_end(key)
                built: T = entry[2]
                return built
        value = build()  # outside the lock: a slow report never holds up the others
        with self._lock:
            self._entries[key] = (now, version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value
