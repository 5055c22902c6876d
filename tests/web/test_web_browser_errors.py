"""Error answers are visible in a real headless Chromium, where htmx boosts every link and form.

htmx 2 does not swap 4xx/5xx answers by default: before `base.html` configured it, a boosted form answered 503
(database down), a search answered 422 or a log-in answered 401 left the page as it was, as if nothing happened;
so did a request that got no answer at all (`static/app.js` says so now). Boosting has one more trap checked here:
a boosted link to a file puts the file's bytes in the page instead of downloading it.
"""

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in
from tests.support.cleaning_factories import HOME_WARD, PASSWORD, add_subject, add_user
from tests.support.ports import free_port
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Dose, Facility, Role
from tiemchung.health.web.app import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_READ, create_app
from tiemchung.health.web.errors import NO_ANSWER_READ, NO_ANSWER_WRITE
from tiemchung.health.web.security import WRONG_CREDENTIALS
from tiemchung.health.web.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOWN_WITHIN_MS = 5_000  # an answer on localhost takes milliseconds; nothing shown after 5 s is the bug


class Served:
    def __init__(self, app: FastAPI, factory: sessionmaker[Session], tmp_path: Path) -> None:
        self.app, self.factory, self.tmp_path = app, factory, tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.subject_id = 0

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def database_down(self) -> None:
        """Every request from now on fails to connect: a SQLite file in a folder that does not exist (a plain
        engine: `make_engine` would create the folder)."""
        unreachable = create_engine(f"sqlite:///{self.tmp_path / 'no-such-folder' / 'registry.sqlite'}")
        self.app.state.session_factory = make_session_factory(unreachable)

    def database_back(self) -> None:
        self.app.state.session_factory = self.factory


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    engine = make_engine(f"sqlite:///{tmp_path / 'web.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(Facility(code="F1", name="Trạm Y tế Phúc Xá", province_code="01", ward_code=HOME_WARD[2]))
        session.flush()
        add_user(session, "coso", Role.FACILITY, HOME_WARD[0], facility_code="F1")
        add_user(session, "soyte", Role.PROVINCE, HOME_WARD[0])
        subject_id = add_subject(session, "S-1", birth_date="1985-03-02", birth_year=1985).id
        session.commit()
    # No register service: dose entry queues the verification (the default verifier without a register URL).
    app = create_app(Settings(secret_key="browser-errors", keys_dir=tmp_path / "keys"), session_factory=factory)
    world = Served(app, factory, tmp_path)
    world.subject_id = subject_id
    world.start()
    yield world
    world.stop()
    engine.dispose()


@pytest.fixture
def page(browser_page):  # type: ignore[no-untyped-def]
    browser_page.set_default_timeout(SHOWN_WITHIN_MS)
    return browser_page


def alert(page):  # type: ignore[no-untyped-def]
    """The page's message area for errors answered to htmx requests."""
    return page.locator("#error-area")


def test_a_boosted_dose_form_answered_503_shows_the_message_keeps_the_form_and_sending_it_again_works(
    served: Served,
    page,  # type: ignore[no-untyped-def]
) -> None:
    log_in(page, served.base, "coso")
    subject_url = f"{served.base}/subjects/{served.subject_id}"
    page.goto(subject_url)
    page.locator("select[name=vaccine]").select_option("Pfizer")
    page.locator("input[name=vaccination_date]").fill("2022-05-10")
    page.locator("input[name=lot_number]").fill("LOT-503")

    served.database_down()
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.get_by_text(DATABASE_UNAVAILABLE).wait_for()
    assert alert(page).is_visible() and DATABASE_UNAVAILABLE in alert(page).inner_text()
    # The page is the one the user filled in: same address, the form with its values, ready to be sent again.
    assert page.url == subject_url
    assert page.locator("input[name=lot_number]").input_value() == "LOT-503"
    with served.factory() as session:
        assert session.scalars(select(Dose)).all() == []

    # A boosted link while the database is down: the read's message, the page left as it was.
    page.get_by_role("link", name="Tra cứu đối tượng").click()
    page.get_by_text(DATABASE_UNAVAILABLE_READ).wait_for()
    assert page.url == subject_url and page.locator("input[name=lot_number]").input_value() == "LOT-503"

    # The database is back: the same form sent again enters the dose once, and the message is gone.
    served.database_back()
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.wait_for_selector(".flash-success:has-text('Đã lưu mũi tiêm')")
    assert not page.get_by_text(DATABASE_UNAVAILABLE_READ).is_visible()
    with served.factory() as session:
        assert [dose.lot_number for dose in session.scalars(select(Dose))] == ["LOT-503"]


def test_a_search_answered_422_shows_why_and_the_next_search_clears_it(
    served: Served,
    page,  # type: ignore[no-untyped-def]
) -> None:
    log_in(page, served.base, "coso")
    page.goto(f"{served.base}/subjects")
    # What a person types is read by the search itself (a wrong birth year is said next to its box); a page number
    # only links make, sent wrong through htmx as a pager link would, is a 422 of the route.
    page.evaluate("htmx.ajax('GET', '/subjects?q=nguyen&page=2a', {target: '#results'})")
    alert(page).get_by_text("Trang").wait_for()
    assert "phải là một số" in alert(page).inner_text()
    assert "2a" not in page.url  # an error is not a page to come back to

    page.get_by_label("Số CCCD/CMND hoặc họ tên").fill("nguyen van an")
    page.get_by_role("button", name="Tìm").click()
    page.locator("#results").get_by_role("link", name="Nguyễn Văn An").wait_for()
    assert alert(page).inner_text().strip() == ""


def test_a_wrong_password_on_the_boosted_log_in_form_shows_the_refusal(
    served: Served,
    page,  # type: ignore[no-untyped-def]
) -> None:
    page.goto(f"{served.base}/login")
    page.get_by_label("Tên đăng nhập").fill("coso")
    page.get_by_label("Mật khẩu").fill(PASSWORD + "-sai")
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_text(WRONG_CREDENTIALS).wait_for()


def test_no_answer_at_all_is_said_too(
    served: Served,
    page,  # type: ignore[no-untyped-def]
) -> None:
    log_in(page, served.base, "coso")
    page.goto(f"{served.base}/subjects/{served.subject_id}")
    page.locator("select[name=vaccine]").select_option("Pfizer")  # no vaccine is chosen for the user
    page.locator("input[name=vaccination_date]").fill("2022-05-10")

    served.stop()  # the web server (or the network to it) is gone: htmx gets no answer
    page.get_by_role("button", name="Lưu và xác minh").click()
    alert(page).get_by_text(NO_ANSWER_WRITE).wait_for()
    page.get_by_role("link", name="Tra cứu đối tượng").click()
    alert(page).get_by_text(NO_ANSWER_READ).wait_for()
    assert not alert(page).get_by_text(NO_ANSWER_WRITE).is_visible()  # one message at a time


def test_download_links_download_instead_of_showing_the_file_in_the_page(
    served: Served,
    page,  # type: ignore[no-untyped-def]
) -> None:
    log_in(page, served.base, "soyte")
    page.goto(f"{served.base}/reports/units")
    for link, suffix in (("Tải CSV", ".csv"), ("Tải Excel (.xlsx)", ".xlsx")):
        with page.expect_download() as download:
            page.get_by_role("link", name=link).click()
        assert download.value.suggested_filename.endswith(suffix)
        assert page.url == f"{served.base}/reports/units"


def test_every_download_link_of_the_templates_is_left_unboosted() -> None:
    """htmx boosts every link of the pages: a link to a file needs `hx-boost="false"` (the test above, for all)."""
    templates = Path(__file__).parents[2] / "src" / "tiemchung" / "health" / "web" / "templates"
    downloads = re.compile(r"<a [^>]*href=\"[^\"]*(\.xlsx|\.csv|\.pdf|/pdf|/imports/errors)[^\"]*\"[^>]*>")
    found = [
        (path.name, link)
        for path in templates.rglob("*.html")
        for link in (match.group(0) for match in downloads.finditer(path.read_text(encoding="utf-8")))
    ]
    assert len(found) >= 5, found  # reports' Excel and CSV, the import's error workbook (twice), the certificate PDF
    assert [item for item in found if 'hx-boost="false"' not in item[1]] == []
