"""A health station's duplicates work in Chromium: the queue, the comparison, "gộp", "không phải cùng một người",
"tách" on the person's page, and a citizen's request ("gộp mũi tiêm") on a 390-px phone. Every decision is saved in
place (htmx: the page neither reloads nor jumps to the top), and no page shows a raw code or breaks the CSP.

With TIEMCHUNG_UPDATE_SCREENSHOTS=1 the comparison's screenshot refreshes docs/user-guide/ (the station's guide).
"""

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in
from tests.support.cleaning_factories import add_subject
from tests.support.live_server import live_server
from tests.support.web_world import build_world
from tiemchung.health.duplicates.detect import find_pairs
from tiemchung.health.duplicates.review import store_pairs
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Dose, Facility, Subject

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide"
SCREENSHOTS = Path(tempfile.gettempdir()) / "tiemchung-screenshots"
PHONE = {"width": 390, "height": 844}
RAW_CODES = re.compile(r"\b(same_name_birth_date|confirmed_by_person|NO_ID_UNVERIFIABLE|MISMATCH|VERIFIED|None)\b")
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _person(session: Session, key: str, name: str, folded: str, **fields: object) -> Subject:
    values: dict[str, object] = {"full_name": name, "full_name_raw": name, "name_canonical": name.lower(),
                                 "name_folded": folded, "birth_date": "1975-03-04", "birth_date_raw": "04/03/1975",
                                 "birth_year": 1975, "facility_code": "F-home"}  # fmt: skip
    values.update(fields)
    return add_subject(session, key, **values)


def _dose(session: Session, subject: Subject, day: date, kind: str, facility: str) -> None:
    session.add(Dose(record_id=f"D-{subject.subject_key}-{day}", subject_id=subject.id, vaccine="Pfizer",
                     vaccination_date=day, dose_kind=kind, facility_code=facility))  # fmt: skip


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, sessionmaker[Session]]]:
    root = tmp_path_factory.mktemp("duplicates-pages")
    engine = make_engine(f"sqlite:///{root / 'web.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    world = build_world(factory, root / "keys")
    with factory() as session:
        session.add(Facility(code="F-campaign", name="Điểm tiêm lưu động KCN Thăng Long", province_code="01"))
        hoa_1 = _person(session, "hoa-1", "Lê Thị Hoa", "le thi hoa", facility_code="F-campaign", phone="0912000111")
        hoa_2 = _person(session, "hoa-2", "Lê Thị Hoa", "le thi hoa", phone="0912000222")
        _dose(session, hoa_1, date(2021, 8, 2), "1", "F-campaign")
        _dose(session, hoa_2, date(2021, 9, 6), "1", "F-home")
        _person(session, "tam-1", "Phạm Văn Tâm", "pham van tam", sex="M")
        _person(session, "tam-2", "Phạm Văn Tâm", "pham van tam", sex="M")
        khoa_1 = _person(session, "khoa-1", "Đỗ Minh Khoa", "do minh khoa", birth_date="1990-01-09", birth_year=1990)
        khoa_2 = _person(session, "khoa-2", "Đỗ Minh Khoa", "do minh khoa", birth_date="1990", birth_year=1990)
        _dose(session, khoa_1, date(2021, 10, 1), "1", "F-home")
        _dose(session, khoa_2, date(2022, 1, 3), "booster_1", "F-campaign")
        session.flush()
        # the exact rules' pairs: the model would propose Khoa's two records too (same name, a year-only birth date
        # of the same year, one commune), and this walk needs them to come from the citizen's request
        store_pairs(session, find_pairs(session, probabilistic=False))
        session.commit()
    with live_server(world.app) as url:
        yield url, factory
    engine.dispose()


def shot(page, name: str, *, guide: bool = False) -> None:  # type: ignore[no-untyped-def]
    folder = GUIDE if guide and os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS") else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def main_text(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.inner_text("main"))


def watch_console(page) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_a_station_merges_refuses_and_splits_in_place(station, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory = station
    page = browser_page
    problems = watch_console(page)
    log_in(page, base, "health_station")
    page.get_by_role("link", name="Hồ sơ trùng").first.click()
    page.wait_for_selector("text=nhóm hồ sơ chờ xem xét")
    queue = main_text(page)
    assert "Lê Thị Hoa" in queue and "Phạm Văn Tâm" in queue
    assert "Đỗ Minh Khoa" not in queue  # a birth year alone pairs nothing: the citizen's request brings it (below)
    assert "Không có số định danh chung; cùng họ tên, ngày sinh, giới tính và tỉnh" in queue
    assert not RAW_CODES.search(queue)
    shot(page, "ho-so-trung-danh-sach")

    # The comparison: the facility that registered each record differs, and says so.
    page.locator("tr", has_text="Lê Thị Hoa").get_by_role("link", name="So sánh và quyết định").click()
    page.wait_for_selector("table.compare")
    differing = page.locator("table.compare tr.differs")
    expect(differing).to_have_count(1)
    expect(differing).to_contain_text("Cơ sở đăng ký hồ sơ")
    expect(differing).to_contain_text("Điểm tiêm lưu động KCN Thăng Long")
    assert not RAW_CODES.search(main_text(page))
    shot(page, "tram-y-te-so-sanh-ho-so-trung", guide=True)

    # Gộp: answered in place, the message where the comparison was; the URL stays, nothing reloads.
    url = page.url
    page.evaluate("window.__still_here = true")
    page.get_by_role("button", name="Gộp các hồ sơ đã chọn").click()
    message = page.locator("#comparison .flash-success")
    expect(message).to_contain_text("Đã gộp 2 hồ sơ thành một")
    expect(message).to_be_in_viewport()
    assert page.url == url and page.evaluate("window.__still_here") is True
    shot(page, "ho-so-trung-da-gop")

    # Không phải cùng một người: the namesakes leave the queue.
    page.goto(f"{base}/duplicates")
    page.locator("tr", has_text="Phạm Văn Tâm").get_by_role("link", name="So sánh và quyết định").click()
    page.wait_for_selector("table.compare")
    page.evaluate("window.__still_here = true")
    page.get_by_role("button", name="Không phải cùng một người").click()
    expect(page.locator("#comparison .flash-success")).to_contain_text("không phải cùng một người")
    assert page.evaluate("window.__still_here") is True
    page.goto(f"{base}/duplicates")
    assert "Phạm Văn Tâm" not in main_text(page) and "Lê Thị Hoa" not in main_text(page)

    # Tách, on the merged person's page.
    page.goto(f"{base}/subjects?q=le+thi+hoa")
    page.get_by_role("link", name="Lê Thị Hoa").first.click()
    page.wait_for_selector("#person-duplicates")
    if page.get_by_role("button", name="Tách hai hồ sơ").count() == 0:  # the merged record: open the survivor
        page.locator("#person-duplicates a", has_text="Lê Thị Hoa").first.click()
        page.wait_for_selector("#person-duplicates")
    page.evaluate("window.__still_here = true")
    page.get_by_label("Lý do tách (không bắt buộc)").fill("Hai chị em trùng tên")
    page.get_by_role("button", name="Tách hai hồ sơ").click()
    expect(page.locator("#person-duplicates .flash-success")).to_contain_text("Đã tách hai hồ sơ")
    assert page.evaluate("window.__still_here") is True
    page.goto(f"{base}/duplicates")
    assert "Lê Thị Hoa" not in main_text(page)  # split: two people, not proposed again
    assert problems == []


def test_a_citizens_request_on_a_phone(station, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory = station
    page = browser_page
    page.set_viewport_size(PHONE)
    problems = watch_console(page)
    log_in(page, base, "health_station")
    page.goto(f"{base}/subjects?q=do+minh+khoa")
    page.locator("a", has_text="Đỗ Minh Khoa").first.click()
    page.wait_for_selector("#person-duplicates")
    page.get_by_text("Người dân đề nghị gộp mũi tiêm").click()
    page.get_by_label("Tìm hồ sơ còn lại: số CCCD/CMND hoặc họ tên").fill("do minh khoa")
    page.get_by_role("button", name="Tìm", exact=True).click()
    page.get_by_role("button", name="Đề nghị gộp với hồ sơ này").first.click()
    expect(page.locator("#person-duplicates .flash-success")).to_contain_text("Đã đưa hai hồ sơ vào danh sách chờ gộp")

    page.goto(f"{base}/duplicates")
    row = page.locator("tr", has_text="Đỗ Minh Khoa")
    expect(row).to_contain_text("Người dân đề nghị")
    shot(page, "ho-so-trung-dien-thoai-danh-sach")
    row.get_by_role("link", name="So sánh và quyết định").click()
    page.wait_for_selector("table.compare")
    assert int(page.evaluate("document.scrollingElement.scrollWidth")) <= PHONE["width"]
    shot(page, "ho-so-trung-dien-thoai-so-sanh")
    page.get_by_role("button", name="Gộp các hồ sơ đã chọn").click()
    expect(page.locator("#comparison .flash-success")).to_contain_text("Đã gộp 2 hồ sơ thành một")
    assert not RAW_CODES.search(main_text(page))
    assert problems == []
