"""End to end in a real headless Chromium: one line through the four steps of seed 000 with four users.

Also takes screenshots of the main pages (small PNGs, the viewport only); with TIEMCHUNG_UPDATE_SCREENSHOTS=1 they
refresh docs/screenshots/, otherwise they go to a temporary folder so that a test run leaves the work tree clean.
"""

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in, log_out
from tests.support.cleaning_factories import HOME_WARD, add_subject, add_user, add_village
from tests.support.ports import free_port
from tiemchung.health.cleaning.models import CleaningLine, LineState
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, Subject
from tiemchung.health.verification.client import Backoff, RegisterClient
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings
from tiemchung.health.web.verifier import RegisterVerifier
from tiemchung.register.keys import KeyStore
from tiemchung.register.sample import write_sample
from tiemchung.register.service import ServiceConfig
from tiemchung.register.service import create_app as create_register_app

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = (
    DOCS_SCREENSHOTS
    if os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "tiemchung-screenshots"
)
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'web.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        village = add_village(session, "Thôn Đông")
        session.add(Facility(code="F1", name="Trạm Y tế Phúc Xá", province_code="01", ward_code=HOME_WARD[2]))
        session.flush()
        add_user(session, "tram", Role.HEALTH_STATION, HOME_WARD[2])
        add_user(session, "thon", Role.VILLAGE_TEAM, HOME_WARD[2], village_id=village.id)
        add_user(session, "congan", Role.COMMUNE_POLICE, HOME_WARD[2])
        add_user(session, "soyte", Role.PROVINCE, HOME_WARD[0])
        add_user(session, "coso", Role.FACILITY, HOME_WARD[0], facility_code="F1")
        # In the sample register as 001085012345; the registry lacks the ID.
        add_subject(session, "S-1", birth_date="1985-03-02", birth_date_raw="02/03/1985", birth_year=1985)
        add_subject(session, "S-2", verification_category="VERIFIED", id_number="001080000999", id_status="valid")
        session.commit()
    register = ExitStack()
    verifier = RegisterVerifier(register.enter_context(register_client(tmp_path / "register")))
    settings = Settings(secret_key="browser-test", keys_dir=tmp_path / "keys")
    app = create_app(settings, session_factory=factory, verifier=verifier)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", factory
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    register.close()
    engine.dispose()


@contextmanager
def register_client(root: Path) -> Iterator[RegisterClient]:
    """The real register service (population package) in-process, over its sample register."""
    register, _ = write_sample(root / "sample")
    config = ServiceConfig(register=register, workdir=root / "workdir", keys=root / "workdir" / "keys.json")
    with TestClient(create_register_app(config), base_url="http://register") as service:
        key = KeyStore(config.keys).add("browser-test", rate_per_second=1000, burst=1000)
        yield RegisterClient("http://register", key, http=service, backoff=Backoff(0, 1, 0))


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def expect_flash(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(f".flash:has-text('{text}')")


def test_one_line_through_the_four_steps(server, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    server, factory = server
    page.goto(f"{server}/login")
    shot(page, "01-dang-nhap")

    # Step 1 and 2a: the station lists the commune's wrong records and gives the line to the village team.
    log_in(page, server, "tram")
    page.goto(f"{server}/cleaning")
    page.get_by_label("Tên danh sách").fill("Đợt 1")
    page.get_by_role("button", name="Lập danh sách").click()
    expect_flash(page, "Đã lập danh sách 1 đối tượng")
    page.locator("input[name=line_ids]").first.check()
    page.get_by_role("button", name="Giao việc").click()
    expect_flash(page, "Đã giao 1 dòng cho Thôn Đông")
    worklist_url = page.url
    log_out(page)

    # Step 2b: the village team records what the family said.
    log_in(page, server, "thon")
    page.goto(worklist_url)
    page.get_by_text("Ghi nhận thông tin từ gia đình").click()
    form = page.locator("form[action$='/family']")
    form.locator("select[name=outcome]").select_option("corrected")
    form.locator("input[name=id_number]").fill("001 085 012 345")
    form.locator("input[name=note]").fill("Gia đình cung cấp CCCD")
    form.get_by_role("button", name="Lưu").click()
    expect_flash(page, "Đã ghi nhận thông tin rà soát")
    log_out(page)

    log_in(page, server, "tram")
    page.goto(worklist_url)
    page.get_by_role("button", name="Chuyển danh sách cho Công an xã/phường").click()
    expect_flash(page, "Đã chuyển 1 dòng")
    log_out(page)

    # Step 3: the commune police confirm the line and sign the list.
    log_in(page, server, "congan")
    page.goto(worklist_url)
    page.get_by_text("Đối chiếu, xác thực").click()
    police = page.locator("form[action$='/police']")
    police.locator("select[name=decision]").select_option("confirmed")
    police.get_by_role("button", name="Xác thực").click()
    expect_flash(page, "Đã xác thực dòng")
    page.get_by_role("button", name="Ký số").click()
    expect_flash(page, "Đã ký và bàn giao")
    page.wait_for_selector(".signature-ok")
    shot(page, "04-cong-an-ky")
    log_out(page)

    # Step 4: the station applies the signed list; the line is re-verified (or queued when no register answers).
    log_in(page, server, "tram")
    page.goto(worklist_url)
    page.get_by_role("button", name="Bước 4").click()
    expect_flash(page, "Đã cập nhật 1 đối tượng; 1 đối tượng đã xác minh đúng")
    shot(page, "05-cap-nhat-xac-minh-lai")
    page.goto(f"{server}/verification-results?category=VERIFIED")
    page.wait_for_selector("text=Nguyễn Văn An")
    shot(page, "06-ket-qua-xac-minh")
    log_out(page)

    # The province sees the commune's progress, ID numbers masked.
    log_in(page, server, "soyte")
    page.wait_for_selector("svg.chart")
    shot(page, "07-tong-quan-so-y-te")
    page.goto(f"{server}/subjects?q=nguyen+van+an&birth_year=1985")
    page.wait_for_selector("text=Nguyễn Văn An")
    assert "001085012345" not in page.content() and "•••••••••345" in page.content()
    shot(page, "08-tra-cuu")
    page.get_by_role("link", name="Nguyễn Văn An").first.click()
    page.wait_for_selector("text=Lịch sử xác minh")
    shot(page, "09-ho-so-doi-tuong")
    log_out(page)

    # A facility enters a dose for the now verified person.
    log_in(page, server, "coso")
    page.goto(f"{server}/subjects?q=001085012345")
    page.get_by_role("link", name="Nguyễn Văn An").first.click()
    page.locator("select[name=vaccine]").select_option("Pfizer")
    page.locator("input[name=vaccination_date]").fill("2022-05-10")
    page.get_by_role("button", name="Lưu và xác minh").click()
    expect_flash(page, "Đã lưu mũi tiêm. Kết quả xác minh: Đã xác minh đúng")
    shot(page, "10-nhap-mui-tiem")

    with factory() as session:
        line = session.scalars(select(CleaningLine)).one()
        subject = session.get(Subject, line.subject_id)
        assert line.state == LineState.APPLIED
        assert subject is not None and subject.id_number == "001085012345"
        assert line.result_category == subject.verification_category == "VERIFIED"
        assert [dose.vaccine for dose in subject.doses] == ["Pfizer"]
        assert {"tram", "thon", "congan"} <= {event.actor for event in line.events}
