"""The people pages over a district of ~88,000 subjects (tests/support/scale_world.py), on an office screen and a phone.

Screenshots go to a temporary folder; with TIEMCHUNG_UPDATE_SCREENSHOTS=1 the facility's pages refresh the user
guide's (docs/user-guide/).
"""

import os
import tempfile
from pathlib import Path

import pytest

from tests.support.browser import log_in
from tests.support.scale_world import ScaleWorld

pytestmark = [pytest.mark.browser, pytest.mark.slow]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide"
SHOTS = GUIDE if os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS") else Path(tempfile.gettempdir()) / "tiemchung-people"
PHONE = {"width": 390, "height": 844}
OFFICE = {"width": 1280, "height": 860}


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def fits_the_screen(page) -> bool:  # type: ignore[no-untyped-def]
    """No horizontal scroll: the page is no wider than the screen."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_district_search_pages_through_thousands_of_people(
    scale_world: ScaleWorld,
    scale_url: str,
    browser_page,  # type: ignore[no-untyped-def]
) -> None:
    page = browser_page
    page.set_default_timeout(30_000)
    log_in(page, scale_url, scale_world.usernames["facility"], scale_world.password)
    page.goto(f"{scale_url}/subjects")
    page.locator("input[name=q]").fill("nguyen")
    page.get_by_role("button", name="Tìm").click()
    results = page.locator("#results")
    results.get_by_text("Hơn 1.000 người phù hợp").wait_for()
    assert results.locator("tbody tr").count() == 50
    assert "Trang 1/20" in results.inner_text()
    first_page = results.locator("tbody tr").first.inner_text()
    results.get_by_role("link", name="Trang sau →").click()
    results.get_by_text("Trang 2/20").wait_for()
    assert results.locator("tbody tr").first.inner_text() != first_page
    assert "page=2" in page.url
    # Narrowed to the district and the people whose data disagree with the register, in words.
    page.locator("select[name=district_code]").select_option(scale_world.district_code)
    page.locator("select[name=ward_code] option").nth(1).wait_for(state="attached")
    page.get_by_label("Kết quả xác minh").select_option(label="Xác minh sai thông tin")
    page.get_by_role("button", name="Tìm").click()
    page.wait_for_url(lambda url: "state=MISMATCH" in url)
    results.locator("tbody tr").first.wait_for()
    verdicts = set(results.locator("tbody tr td:last-child").all_inner_texts())
    assert verdicts == {"Xác minh sai thông tin"}
    shot(page, "co-so-tiem-chung-tra-cuu")
    page.set_viewport_size(PHONE)
    assert fits_the_screen(page), "the search scrolls sideways on a phone"
    shot(page, "co-so-tiem-chung-tra-cuu-dien-thoai")
    page.set_viewport_size(OFFICE)


def test_the_dose_form_and_a_persons_page_at_scale(
    scale_world: ScaleWorld,
    scale_url: str,
    browser_page,  # type: ignore[no-untyped-def]
) -> None:
    page = browser_page
    page.set_default_timeout(30_000)
    log_in(page, scale_url, scale_world.usernames["facility"], scale_world.password)
    page.goto(f"{scale_url}/doses/new")
    page.locator("select[name=district_code]").select_option(scale_world.district_code)
    page.locator("select[name=ward_code]").select_option(scale_world.ward_code)
    shot(page, "co-so-tiem-chung-nhap-mui-tiem")
    page.set_viewport_size(PHONE)
    assert fits_the_screen(page), "the dose form scrolls sideways on a phone"
    shot(page, "co-so-tiem-chung-nhap-mui-tiem-dien-thoai")
    page.set_viewport_size(OFFICE)

    page.goto(f"{scale_url}/subjects?state=MISMATCH&district_code={scale_world.district_code}")
    page.locator("#results tbody a").first.click()
    page.get_by_text("Lịch sử xác minh").wait_for()
    main = page.locator("main").inner_text()
    assert "Xác minh sai thông tin" in main and "MISMATCH" not in main and "15/06/2022" in main
    shot(page, "co-so-tiem-chung-ho-so")
