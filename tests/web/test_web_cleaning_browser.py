"""The cleaning pages in Chromium at a commune's real size: a list of 2,000 lines for the health station, a village
team on a 390-px phone, the commune police with 300 lines to check. Asserts what each person sees.

With TIEMCHUNG_UPDATE_SCREENSHOTS=1 the screenshots refresh docs/screenshots/ (see test_web_browser.py).
"""

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in
from tests.support.cleaning_world import CleaningWorld, build_cleaning_world
from tests.support.live_server import live_server
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "tiemchung-screenshots"
)
PHONE = {"width": 390, "height": 844}
RAW_CODES = re.compile(r"\b(listed|assign|family_answer|send_to_police|police_decision|send_back|with_police)\b")
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def commune(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, sessionmaker[Session], CleaningWorld]]:
    root = tmp_path_factory.mktemp("cleaning-pages")
    engine = make_engine(f"sqlite:///{root / 'web.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        world = build_cleaning_world(session)
    app = create_app(Settings(secret_key="cleaning-pages", keys_dir=root / "keys"), session_factory=factory)
    with live_server(app) as url:
        yield url, factory, world
    engine.dispose()


def shot(page, name: str, *, full_page: bool = False) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def vn(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def visible_text(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.inner_text("main"))


def no_sideways_scroll(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def test_the_station_pages_filters_and_gives_every_matching_line_at_once(commune, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory, world = commune
    page = browser_page
    log_in(page, base, "tram")
    page.goto(f"{base}/cleaning/worklists/{world.open_worklist_id}")
    assert "Dòng 1–50 trong 2.000 dòng" in visible_text(page)
    assert page.locator("tr.line").count() == 50
    assert "Phúc Xá" in visible_text(page)  # the commune's name, not its code alone
    assert not RAW_CODES.search(visible_text(page)) and "None" not in visible_text(page)

    page.get_by_label("Vấn đề", exact=True).select_option(label="Sai thông tin cá nhân cơ bản")
    page.get_by_label("Bước", exact=True).select_option(label="Đã lập danh sách")
    page.get_by_role("button", name="Lọc").click()
    page.wait_for_selector("text=khớp bộ lọc")
    shown = visible_text(page)
    matching = int(re.search(r"trong ([\d.]+) dòng khớp bộ lọc", shown).group(1).replace(".", ""))  # type: ignore[union-attr]
    assert 500 < matching < 700
    assert page.locator("tr.line .badge.warn", has_text="Sai thông tin cá nhân cơ bản").count() == 50
    shot(page, "02-danh-sach-tram-y-te")

    page.get_by_label(re.compile(r"Chọn tất cả [\d.]+ dòng khớp bộ lọc")).check()
    page.get_by_label("Tổ thôn/ấp", exact=True).select_option(label="Thôn Nam")
    page.get_by_role("button", name="Giao việc").click()
    page.wait_for_selector(f".flash:has-text('Đã giao {vn(matching)} dòng cho Thôn Nam')")
    # Back on the same filter: none of those lines is still waiting to be given.
    assert "Không có dòng nào khớp bộ lọc" in visible_text(page)
    page.get_by_label("Bước", exact=True).select_option("")
    page.get_by_label("Thôn/ấp", exact=True).select_option(label="Thôn Nam")
    page.get_by_role("button", name="Lọc").click()
    page.wait_for_selector(f"text=trong {vn(matching)} dòng khớp bộ lọc")


def test_a_village_team_works_on_a_phone_and_each_line_is_saved_in_place(commune, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory, _world = commune
    page = browser_page
    page.set_viewport_size(PHONE)
    log_in(page, base, "thon")
    page.goto(f"{base}/cleaning")
    assert "100 dòng cần rà soát" in visible_text(page)
    assert no_sideways_scroll(page) <= PHONE["width"]
    page.get_by_role("link", name=re.compile("Đợt 1 năm 2024: 100 dòng")).click()
    page.wait_for_selector("text=Dòng 1–20 trong 100 dòng")
    assert "100 dòng của thôn/ấp Thôn Bắc" in visible_text(page)
    assert no_sideways_scroll(page) <= PHONE["width"]
    assert "Thôn Đông" not in visible_text(page)  # only the team's own village

    # 20 lines a page on a phone, each a card whose form opens with one tap: a page of a few screens.
    assert page.locator("tr.line").count() == 20
    assert page.evaluate("document.scrollingElement.scrollHeight") < 10_000
    row = page.locator("tr.line").nth(15)
    row.get_by_text("Ghi nhận thông tin từ gia đình").click()
    form = row.locator("form[action$='/family']")
    # Pre-filled with what is known: the listed name and birth date (dd/mm/yyyy), ready to be corrected.
    name = row.locator("strong").first.inner_text()
    assert form.locator("input[name=full_name]").input_value() == name
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", form.locator("input[name=birth_date]").input_value())
    save = form.get_by_role("button", name="Lưu")
    box = save.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44  # a finger's size

    save.scroll_into_view_if_needed()
    page.evaluate("window.notReloaded = true")
    before = page.evaluate("window.scrollY")
    assert before > 2000
    form.locator("select[name=outcome]").select_option(label="Bổ sung/điều chỉnh thông tin")
    form.locator("input[name=id_number]").fill("001 085 012 345")
    form.locator("input[name=note]").fill("Đã xem thẻ CCCD")
    save.click()
    saved = page.locator("tr.line").nth(15)
    saved.locator(".flash", has_text="Đã ghi nhận thông tin rà soát").wait_for()
    assert page.evaluate("window.notReloaded") is True
    # No jump to the top: the page stays at the line (which got shorter), its message in sight.
    assert page.evaluate("window.scrollY") > before / 2
    expect(saved.locator(".flash")).to_be_in_viewport()
    assert "Tổ thôn đã rà soát" in saved.inner_text() and "001085012345" in saved.inner_text()
    assert no_sideways_scroll(page) <= PHONE["width"]
    shot(page, "03-to-thon-ra-soat")

    # A wrong entry is refused in the line, with what was typed kept.
    other = page.locator("tr.line").nth(16)
    other.get_by_text("Ghi nhận thông tin từ gia đình").click()
    other_form = other.locator("form[action$='/family']")
    other_form.locator("select[name=outcome]").select_option(label="Bổ sung/điều chỉnh thông tin")
    other_form.locator("input[name=id_number]").fill("12345")
    other_form.get_by_role("button", name="Lưu").click()
    refused = page.locator("tr.line").nth(16)
    refused.locator(".flash-error", has_text="số CMND có 9 chữ số").wait_for()
    assert refused.locator("input[name=id_number]").input_value() == "12345"

    saved.get_by_role("link", name="Lịch sử").click()
    page.wait_for_selector("text=Lịch sử dòng")
    history = visible_text(page)
    assert "Tổ thôn ghi nhận thông tin từ gia đình" in history and "Số CCCD/CMND: 001085012345" in history
    assert not RAW_CODES.search(history) and "{" not in history and "00:00:00" not in history
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", history)
    assert no_sideways_scroll(page) <= PHONE["width"]


def test_a_line_sent_back_keeps_the_teams_earlier_answer(commune, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory, world = commune
    page = browser_page
    log_in(page, base, "thon")
    page.goto(f"{base}/cleaning/worklists/{world.open_worklist_id}?state=assigned")
    page.locator("tr.line").first.get_by_text("Ghi nhận thông tin từ gia đình").click()
    form = page.locator("tr.line").first.locator("form[action$='/family']")
    form.locator("select[name=outcome]").select_option(label="Bổ sung/điều chỉnh thông tin")
    form.locator("input[name=id_number]").fill("001090000777")
    form.get_by_role("button", name="Lưu").click()
    page.locator("tr.line").first.locator(".flash", has_text="Đã ghi nhận").wait_for()
    line_id = page.locator("tr.line").first.get_attribute("id")

    log_in(page, base, "tram")
    page.goto(f"{base}/cleaning/worklists/{world.open_worklist_id}?state=reviewed")
    row = page.locator(f"#{line_id}")
    row.get_by_text("Trả về tổ thôn").click()
    row.get_by_label("Lý do").fill("Gia đình báo sai số")
    row.get_by_role("button", name="Trả lại").click()
    page.locator(f"#{line_id} .flash", has_text="Đã trả dòng về tổ thôn").wait_for()

    log_in(page, base, "thon")
    page.goto(f"{base}/cleaning/worklists/{world.open_worklist_id}#{line_id}")
    returned = page.locator(f"#{line_id}")
    assert "Trả lại: Gia đình báo sai số" in returned.inner_text()
    assert returned.locator("select[name=outcome]").input_value() == "corrected"
    assert returned.locator("input[name=id_number]").input_value() == "001090000777"


def test_the_police_see_the_engines_proposal_and_confirm_in_bulk(commune, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _factory, world = commune
    page = browser_page
    log_in(page, base, "congan2")
    page.goto(f"{base}/cleaning/worklists/{world.police_worklist_id}?problem=WRONG_INFO")
    row = page.locator("tr.line").first
    text = row.inner_text()
    assert re.search(r"Số định danh khớp: \d{12}", text) and "độ tin cậy 97 %" in text
    assert "Thông tin đang có là đúng" in text  # what the team recorded, beside it
    proposed = re.search(r"Số định danh khớp: (\d{12})", text).group(1)  # type: ignore[union-attr]
    row.get_by_text("Đối chiếu, xác thực").click()
    police_form = row.locator("form[action$='/police']")
    assert police_form.locator("input[name=full_name]").input_value()  # pre-filled with what is known

    # One line corrected in place, further down the page: the page does not move.
    lower = page.locator("tr.line").nth(30)
    lower.get_by_text("Đối chiếu, xác thực").click()
    lower_form = lower.locator("form[action$='/police']")
    lower_form.get_by_role("button", name="Xác thực").scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    lower_form.locator("select[name=decision]").select_option(label="Công an điều chỉnh")
    lower_form.locator("input[name=id_number]").fill(proposed)
    lower_form.get_by_role("button", name="Xác thực").click()
    confirmed = page.locator("tr.line").nth(30)
    confirmed.locator(".flash", has_text="Đã xác thực dòng").wait_for()
    assert page.evaluate("window.scrollY") > before / 2
    expect(confirmed.locator(".flash")).to_be_in_viewport()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "04-cong-an-doi-chieu")

    page.goto(f"{base}/cleaning/worklists/{world.police_worklist_id}?state=with_police")
    waiting = int(re.search(r"trong ([\d.]+) dòng", visible_text(page)).group(1).replace(".", ""))  # type: ignore[union-attr]
    assert waiting == 299
    page.get_by_label(re.compile("Chọn tất cả 299 dòng khớp bộ lọc")).check()
    page.get_by_role("button", name="Xác thực đúng các dòng đã chọn").click()
    page.wait_for_selector(".flash:has-text('Đã xác thực đúng 299 dòng')")
    page.get_by_role("button", name="Ký số").click()
    page.wait_for_selector(".flash:has-text('Đã ký và bàn giao danh sách 300 dòng')")
    page.wait_for_selector(".signature-ok")


def test_the_pages_over_a_generated_district(scale_world, scale_url, browser_page) -> None:  # type: ignore[no-untyped-def]
    """The shared scale world (a district of ~110,000 people): read only, so that other tests find it as built."""
    page = browser_page
    log_in(page, scale_url, scale_world.usernames["station"], scale_world.password)
    page.goto(f"{scale_url}/cleaning/worklists/{scale_world.worklist_id}?page=7")
    assert f"Dòng 301–350 trong {vn(scale_world.worklist_lines)} dòng" in visible_text(page)
    assert page.locator("tr.line").count() == 50
    page.goto(f"{scale_url}/cleaning")
    assert f">{vn(scale_world.worklist_lines)}<" in page.content()
    assert not RAW_CODES.search(visible_text(page)) and "None" not in visible_text(page)

    page.set_viewport_size(PHONE)
    log_in(page, scale_url, scale_world.usernames["village"], scale_world.password)
    for path in ("/cleaning", f"/cleaning/worklists/{scale_world.worklist_id}"):
        page.goto(f"{scale_url}{path}")
        assert no_sideways_scroll(page) <= PHONE["width"], path
