"""The administrator creates accounts in Chromium: areas from lists, wrong inputs answered field by field with
nothing typed lost (issue 15, issue 16 item 1)."""

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import PASSWORD, add_user
from tests.support.live_server import live_server
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "tiemchung-screenshots"
)


@pytest.fixture
def admin_server(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'web.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(Facility(code="F1", name="Trạm Y tế Phúc Xá", province_code="01", district_code="001",
                             ward_code="00001"))  # fmt: skip
        add_user(session, "quantri", Role.ADMIN, "")
        session.commit()
    app = create_app(Settings(secret_key="admin-test", keys_dir=tmp_path / "keys"), session_factory=factory)
    with live_server(app) as base:
        yield base, factory
    engine.dispose()


def test_wrong_accounts_are_refused_field_by_field(admin_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, factory = admin_server
    page = browser_page
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("text=Xin chào")
    page.goto(f"{base}/admin/users")

    # A facility account with no facility: the account that could write anywhere.
    form = page.locator("#new-user")
    form.get_by_label("Tên đăng nhập").fill("coso_phucxa")
    form.get_by_label("Họ và tên").fill("Nguyễn Thị Hoa")
    form.locator("select[name=role]").select_option(
        label="Cơ sở tiêm chủng (địa bàn: tỉnh/thành phố hoặc quận/huyện hoặc xã/phường)"
    )
    form.locator("select[name=province]").select_option(label="Thành phố Hà Nội")
    page.wait_for_selector("select[name=district]:not([disabled])")
    form.get_by_role("button", name="Tạo tài khoản").click()
    page.wait_for_selector(".field-error")
    assert (
        page.locator("#facility-error").inner_text() == "Tài khoản cơ sở tiêm chủng phải gắn với một cơ sở tiêm chủng."
    )
    assert form.get_by_label("Tên đăng nhập").input_value() == "coso_phucxa"
    assert form.get_by_label("Họ và tên").input_value() == "Nguyễn Thị Hoa"
    assert form.locator("select[name=role]").input_value() == "facility"
    assert form.locator("select[name=province]").input_value() == "01"

    # A commune role with only a province chosen: the commune is missing.
    form.locator("select[name=role]").select_option("health_station")
    form.locator("select[name=district]").select_option(label="Quận Ba Đình")
    page.wait_for_selector("select[name=ward]:not([disabled])")
    form.get_by_role("button", name="Tạo tài khoản").click()
    page.wait_for_selector("#area-error")
    assert "cần địa bàn cấp xã/phường" in page.locator("#area-error").inner_text()
    assert form.locator("select[name=district]").input_value() == "001", "the chosen district stays"
    page.screenshot(path=str(_shot("11-quan-tri-tai-khoan")), full_page=True)

    # Corrected: the commune from the list; the account is created and its password shown once.
    form.locator("select[name=ward]").select_option(label="Phường Phúc Xá")
    form.get_by_role("button", name="Tạo tài khoản").click()
    page.wait_for_selector(".flash-success:has-text('Đã tạo tài khoản coso_phucxa')")
    assert "Phường Phúc Xá (00001)" in page.locator("table").inner_text()
    with factory() as session:
        created = session.scalars(select(User).where(User.username == "coso_phucxa")).one()
        assert (created.role, created.area_code, created.facility_code) == ("health_station", "00001", None)


def test_a_typed_area_that_does_not_exist_is_refused(admin_server) -> None:  # type: ignore[no-untyped-def]
    """A hand-made POST (not from the lists) with commune 99999 is refused, not stored."""
    base, factory = admin_server
    del base
    app = create_app(Settings(secret_key="admin-test"), session_factory=factory)
    client = TestClient(app, follow_redirects=False)
    login_page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    assert token is not None
    client.post("/login", data={"username": "quantri", "password": PASSWORD, "csrf_token": token.group(1)})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/users").text)
    assert token is not None
    answer = client.post(
        "/admin/users",
        data={"username": "tram99", "role": "health_station", "province": "99", "district": "999",
              "ward": "99999", "csrf_token": token.group(1)},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "Không có đơn vị hành chính mã 99" in answer.text
    assert 'value="tram99"' in answer.text, "what was typed is kept"
    with factory() as session:
        assert session.scalar(select(User).where(User.username == "tram99")) is None


def _shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def _log_in_as_admin(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("text=Xin chào")


def test_a_province_chosen_before_the_scripts_have_loaded_still_fills_the_districts(  # type: ignore[no-untyped-def]
    admin_server, browser_page
) -> None:
    """The cascading lists (admin's area, the dose form's and the search's places) reloaded on htmx's own change
    trigger, attached only once htmx had loaded: a province chosen before left the district list disabled for good."""
    base, _factory = admin_server
    page = browser_page
    _log_in_as_admin(page, base)
    held: list[object] = []

    def hold(route) -> None:  # type: ignore[no-untyped-def]
        if len(held) < 2:
            held.append(route)
        else:
            route.continue_()

    page.route("**/static/*.js", hold)  # the page's two scripts wait until the choice is made
    page.goto(f"{base}/admin/users", wait_until="commit")
    page.locator("#area-fields select[name=province]").select_option("01")
    assert len(held) == 2
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    districts = page.locator("#area-fields select[name=district]")
    districts.locator("option[value='001']").wait_for(state="attached", timeout=10_000)
    assert districts.is_enabled()


def test_a_district_chosen_right_after_the_lists_were_swapped_in_still_fills_the_communes(  # type: ignore[no-untyped-def]
    admin_server, browser_page
) -> None:
    """htmx processes swapped-in content only after its settle delay: a choice made in between did nothing."""
    base, _factory = admin_server
    page = browser_page
    _log_in_as_admin(page, base)
    page.goto(f"{base}/admin/users")
    page.evaluate(
        """() => document.addEventListener("htmx:afterSwap", () => {
             const district = document.querySelector("#area-fields select[name=district]");
             district.value = "001";
             district.dispatchEvent(new Event("change", {bubbles: true}));
           }, {once: true})"""
    )
    page.locator("#area-fields select[name=province]").select_option("01")
    page.locator("#area-fields select[name=ward] option[value='00001']").wait_for(state="attached", timeout=10_000)
