"""Imports in Chromium: a facility uploads a 20,000-row workbook and watches its progress, then the result; the
commune health station has the page too (it re-imports its commune's corrected list, seed 000 step 4).

Screenshots of the progress and of the result go to docs/screenshots/ with TIEMCHUNG_UPDATE_SCREENSHOTS=1.
"""

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in
from tests.support.cleaning_factories import add_user
from tests.support.ports import free_port
from tests.support.registry_files import KEYS, VI_HEADERS, record
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Dose, Facility, Role
from tiemchung.health.verification.models import VerificationRequest
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "tiemchung-screenshots"
)
ROWS = 20_000
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'web.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add(Facility(code="CS01", name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"))
        session.flush()
        add_user(session, "coso", Role.FACILITY, "01", facility_code="CS01")
        add_user(session, "tram", Role.HEALTH_STATION, "00001")
    app = create_app(Settings(secret_key="browser-test", keys_dir=tmp_path / "keys"), session_factory=factory)
    app.state.imports_dir = tmp_path / "imports"
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{uvicorn_server.config.port}", factory
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def _workbook(path: Path) -> Path:
    """20,000 rows of 10,000 people (two doses each), two of them wrong."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(VI_HEADERS)
    for n in range(ROWS):
        row = record(subject_id=f"S{n // 2}", record_id=f"R{n}", dose=str(n % 2 + 1),
                     vaccination_date="20/08/2021" if n % 2 == 0 else "20/10/2021")  # fmt: skip
        if n in (7, 15_001):
            row["birth_date"] = "31/02/1985"
        sheet.append([row[key] for key in KEYS])
    workbook.save(path)
    return path


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_facility_watches_a_large_import_and_gets_its_result(  # type: ignore[no-untyped-def]
    server, browser_page, tmp_path: Path
) -> None:
    base, factory = server
    page = browser_page
    log_in(page, base, "coso")
    page.get_by_role("link", name="Nhập tệp mũi tiêm").click()
    page.get_by_label("Tệp danh sách mũi tiêm").set_input_files(str(_workbook(tmp_path / "danh-sach-20000.xlsx")))
    page.get_by_role("button", name="Nhập tệp").click()
    progress = page.locator("#import-progress")
    progress.locator("progress").wait_for(timeout=30_000)
    # A locator, not wait_for_function: Playwright evaluates a string predicate with eval(), which the Content
    # Security Policy (script-src 'self') refuses in the page.
    playwright_sync = pytest.importorskip("playwright.sync_api")
    playwright_sync.expect(progress.locator("td").first).not_to_have_text("0", timeout=30_000)
    assert "Dòng đã đọc" in progress.inner_text()
    shot(page, "nhap-tep-dang-chay")
    page.wait_for_selector("#import-progress:has-text('Đã nhập xong')", timeout=300_000)
    result = progress.inner_text()
    assert "19.998" in result and "Ngày sinh" in result  # rows stored, the rejected rows' column in words
    assert page.locator("a", has_text="Tải danh sách dòng bị từ chối").count() == 1
    shot(page, "nhap-tep-ket-qua")
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Dose)) == ROWS - 2
        assert session.scalar(select(func.count()).select_from(VerificationRequest)) == ROWS // 2


def test_the_station_has_the_import_page(server, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory = server
    page = browser_page
    log_in(page, base, "tram")
    page.get_by_role("link", name="Nhập tệp mũi tiêm").click()
    page.wait_for_selector("h1:has-text('Nhập tệp danh sách mũi tiêm')")
    assert page.locator(".flash-error").count() == 0
