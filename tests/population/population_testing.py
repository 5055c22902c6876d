"""Helpers shared by the register service's tests (a unique module name: `conftest` is one per folder)."""

from datetime import datetime, timedelta


class FakeClock:
    """A clock the test moves by hand: retention periods of weeks pass without waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **duration: float) -> None:
        self.now += timedelta(**duration)
