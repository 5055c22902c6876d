"""Optional services (PostgreSQL, Chromium, Spark): fail on CI when missing, skip elsewhere."""

import os
from typing import NoReturn

import pytest

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Fail on CI, skip elsewhere: CI must never pass by skipping a required service."""
    if ON_CI:
        pytest.fail(f"required on CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)
