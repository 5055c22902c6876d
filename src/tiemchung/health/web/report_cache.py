"""Built reports kept per area and filters until the data changes (five minutes at most).

At a district's scale the same dashboard is opened again and again. An entry is dropped as soon as the data's
version changes: the highest id of the doses, the register's answers, the imports, the reported figures and of
`report_changes`, which the database's triggers add to with every other change that alters a report — a merge, a
cleaning correction, a duplicate marked, a facility moved, a figure replaced (`reconciliation.changes`) — in the
same transaction, so the next request after a commit builds the report afresh. One index look-up per table
(`reconciliation.service.version`). The five minutes only bound how long an unused entry holds memory.
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
