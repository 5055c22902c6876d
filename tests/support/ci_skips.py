"""On CI (CI=true) a skipped test is a failure, unless its reason is on the short allow-list below.

A clone of the repository holds everything its tests need (spec, seed figures, EU DCC vectors), so on CI a skip
means something is missing that should not be: a file, a service, a library. Services already fail through
`tests.support.services.unavailable`; this catches every other skip (`pytest.skip`, `skipif`, `importorskip`,
at run time or at collection). Expected failures (xfail, e.g. the EU vectors upstream lists as wrong) are not
skips and are left alone.
"""

from collections.abc import Generator

import pytest

from tests.support.services import ON_CI

# Reason prefixes of the skips CI accepts, each with why.
SKIPS_ALLOWED_ON_CI = (
    # Renders a report workbook to PDF to show LibreOffice computes its formulas: a check of the documentation's
    # pictures, not of the platform, and LibreOffice is a 500 MB install CI does not carry.
    "LibreOffice is not installed",
)


def _reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_if_not_allowed(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not ON_CI or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report.longrepr)
    if reason.startswith(SKIPS_ALLOWED_ON_CI):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped on CI, which must run every test (allow-list: tests/support/ci_skips.py): {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    report = yield
    assert isinstance(report, pytest.TestReport)
    _fail_if_not_allowed(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, object, object]:
    report = yield
    assert isinstance(report, pytest.CollectReport)
    _fail_if_not_allowed(report)
    return report
