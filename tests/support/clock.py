"""A clock the tests move by hand (the register service's retention and query-log tests)."""

from datetime import datetime, timedelta


class FakeClock:
    """A clock the test moves by hand: retention periods of weeks pass without waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **duration: float) -> None:
        self.now += timedelta(**duration)
