"""The people pages in Chromium, as a facility and a health station use them (issue 15): the search, the dose form,
a person's page ("xác minh lại", "chỉnh sửa trực tiếp"). Each test failed before its fix, on what the user sees."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in
from tests.support.cleaning_factories import HOME_WARD, add_subject, add_user
from tests.support.ports import free_port
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Dose, Facility, Role, Subject
from tiemchung.health.verification.models import VerificationRequest
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
THOAI_ID = "001080012345"


@dataclass
class Site:
    base: str
    factory: sessionmaker[Session]
    thoai_id: int
    no_id_id: int


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path / 'web.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(Facility(code="F1", name="Trạm Y tế Phúc Xá", province_code="01", ward_code=HOME_WARD[2]))
        session.flush()
        add_user(session, "coso", Role.FACILITY, HOME_WARD[0], facility_code="F1")
        add_user(session, "tram", Role.HEALTH_STATION, HOME_WARD[2])
        thoai = add_subject(
            session, "S-thoai", full_name="Nguyễn Văn Thoại", full_name_raw="Nguyễn Văn Thoại",
            name_canonical="nguyễn văn thoại", name_folded="nguyen van thoai", id_number=THOAI_ID,
            id_number_raw=THOAI_ID, id_kind="cccd", id_status="valid", verification_category="VERIFIED",
        )  # fmt: skip
        no_id = add_subject(
            session, "S-binh", full_name="Trần Thị Bình", full_name_raw="Trần Thị Bình", name_canonical="trần thị bình",
            name_folded="tran thi binh", sex="F", birth_date="1990-07-09", birth_year=1990,
            verification_category="NO_ID_UNVERIFIABLE",
        )  # fmt: skip
        add_subject(session, "S-mismatch", verification_category="MISMATCH", verification_reasons="NAME;SEX")
        session.commit()
        site_ids = (thoai.id, no_id.id)
    # No register service: entries and "xác minh lại" queue the verification.
    app = create_app(Settings(secret_key="people-pages", keys_dir=tmp_path / "keys"), session_factory=factory)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", factory, *site_ids)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture
def page(browser_page):  # type: ignore[no-untyped-def]
    browser_page.set_default_timeout(10_000)
    return browser_page


def results(page):  # type: ignore[no-untyped-def]
    return page.locator("#results")


# Search -----------------------------------------------------------------------------------------------------------


def test_an_id_number_alone_finds_the_person_with_the_birth_year_box_empty(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "coso")
    page.goto(f"{site.base}/subjects")
    page.get_by_label("Số CCCD/CMND hoặc họ tên").fill("001 080 012 345")
    page.get_by_role("button", name="Tìm").click()
    results(page).get_by_role("link", name="Nguyễn Văn Thoại").wait_for()
    text = results(page).inner_text()
    assert "Đã xác minh đúng" in text and "VERIFIED" not in text
    assert "Năm sinh" not in page.locator("#error-area").inner_text()


def test_any_part_of_a_name_without_diacritics_finds_the_person(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "coso")
    page.goto(f"{site.base}/subjects")
    page.get_by_label("Số CCCD/CMND hoặc họ tên").fill("nguyen thoai")  # the list follows the typing
    results(page).get_by_role("link", name="Nguyễn Văn Thoại").wait_for()
    assert "Tìm thấy 1 người" in results(page).inner_text()
    # A birth year that is not one is said next to its box; the search still answers.
    page.get_by_label("Năm sinh").fill("19a0")
    page.get_by_role("button", name="Tìm").click()
    results(page).get_by_text("Năm sinh gồm 4 chữ số").wait_for()
    assert results(page).get_by_role("link", name="Nguyễn Văn Thoại").is_visible()
    # The verdict filter, in words.
    page.get_by_label("Năm sinh").fill("")
    page.get_by_label("Số CCCD/CMND hoặc họ tên").fill("nguyen")
    page.get_by_label("Kết quả xác minh").select_option(label="Xác minh sai thông tin")
    page.get_by_role("button", name="Tìm").click()
    results(page).get_by_role("cell", name="Xác minh sai thông tin").wait_for()
    assert "Tìm thấy 1 người" in results(page).inner_text() and "Thoại" not in results(page).inner_text()


# Dose entry by form -----------------------------------------------------------------------------------------------


def fill_person(page, *, name: str, birth: str, sex: str, id_number: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Họ và tên").fill(name)
    page.get_by_label("Ngày sinh").fill(birth)
    page.get_by_label("Giới tính").select_option(sex)
    page.get_by_label("Số CCCD/CMND").fill(id_number)


def choose_place(page, district: str, ward: str) -> None:  # type: ignore[no-untyped-def]
    """Province fixed by the facility's area; district and commune from the cascading lists."""
    page.get_by_label("Quận/huyện").select_option(label=district)
    page.get_by_label("Xã/phường").locator(f"option:text-is('{ward}')").wait_for(state="attached")
    page.get_by_label("Xã/phường").select_option(label=ward)


def fill_dose(page, *, date: str = "2022-05-10", lot: str = "LOT-7") -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Vắc xin").select_option(label="Pfizer (Comirnaty)")
    page.get_by_label("Mũi").select_option(label="Mũi 1")
    page.get_by_label("Ngày tiêm").fill(date)
    page.get_by_label("Số lô (không bắt buộc)").fill(lot)


def test_the_form_adds_the_dose_to_the_person_registered_with_that_id(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "coso")
    page.goto(f"{site.base}/doses/new")
    assert "Thành phố Hà Nội" in page.locator(".place-cascade").inner_text()
    fill_person(page, name="Nguyễn Văn Thoại", birth="01/05/1980", sex="Nam", id_number=THOAI_ID)
    choose_place(page, "Quận Ba Đình", "Phường Phúc Xá")
    fill_dose(page)
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.wait_for_selector(".flash-success:has-text('Đã lưu mũi tiêm cho Nguyễn Văn Thoại (đã có trong sổ)')")
    assert page.url.endswith(f"/subjects/{site.thoai_id}")
    assert "10/05/2022" in page.locator("main").inner_text()
    with site.factory() as session:
        assert session.scalar(select(func.count()).where(Subject.id_number == THOAI_ID)) == 1
        assert session.scalars(select(Dose.subject_id)).all() == [site.thoai_id]


def test_wrong_places_and_dates_are_refused_field_by_field_and_nothing_typed_is_lost(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "coso")
    page.goto(f"{site.base}/doses/new")
    fill_person(page, name="Lê Văn Cường", birth="15/06/2022", sex="Nam", id_number="001222000111")
    choose_place(page, "Quận Ba Đình", "Phường Phúc Xá")
    fill_dose(page, date="2022-01-10")  # before the birth
    # A commune code that is no commune, as an old or altered form would send it.
    page.evaluate("document.querySelector('select[name=ward_code]').add(new Option('99999', '99999', true, true))")
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.get_by_text("Chưa lưu: hãy sửa các ô được đánh dấu").wait_for()
    form = page.locator("form.dose-form")
    assert "Xã/phường không thuộc Quận Ba Đình" in form.inner_text()
    assert "trước" in form.locator("label:has(input[name=vaccination_date]) .field-error").inner_text()
    assert page.get_by_label("Họ và tên").input_value() == "Lê Văn Cường"
    assert page.get_by_label("Số lô (không bắt buộc)").input_value() == "LOT-7"
    assert page.get_by_label("Quận/huyện").input_value() == "001"

    # A person of another province: the facility would never see them again.
    page.evaluate(
        "(() => { const cascade = document.querySelector('.place-cascade');"
        " cascade.querySelector('input[name=province_code]').value = '79';"
        " cascade.querySelector('select[name=district_code]').add(new Option('760', '760', true, true));"
        " cascade.querySelector('select[name=ward_code]').add(new Option('26734', '26734', true, true)); })()"
    )
    page.get_by_label("Ngày tiêm").fill("2022-07-10")
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.get_by_text("Cơ sở chỉ nhập được người cư trú trong địa bàn của mình").wait_for()
    with site.factory() as session:
        assert session.scalar(select(func.count()).select_from(Subject)) == 3
        assert not session.scalars(select(Dose)).all()


def test_a_person_registered_without_the_id_is_offered_before_a_new_one_is_made(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "coso")
    page.goto(f"{site.base}/doses/new")
    fill_person(page, name="tran thi binh", birth="09/07/1990", sex="Nữ", id_number="001190000222")
    choose_place(page, "Quận Ba Đình", "Phường Phúc Xá")
    fill_dose(page)
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.get_by_text("Có thể người này đã có trong sổ").wait_for()
    page.locator("label.choice", has_text="Trần Thị Bình").locator("input").check()
    page.get_by_role("button", name="Lưu và xác minh").click()
    page.wait_for_selector(".flash-success:has-text('Đã lưu mũi tiêm cho Trần Thị Bình')")
    assert page.url.endswith(f"/subjects/{site.no_id_id}")
    with site.factory() as session:
        assert session.scalar(select(func.count()).select_from(Subject)) == 3


# A person's page --------------------------------------------------------------------------------------------------


def test_reverify_queues_the_person_and_says_so(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "tram")
    page.goto(f"{site.base}/subjects/{site.no_id_id}")
    assert "Không có/sai định dạng CCCD, không xác minh được" in page.locator("main").inner_text()
    page.get_by_role("button", name="Xác minh lại").click()
    page.wait_for_selector(".flash-success:has-text('Đã đưa hồ sơ vào hàng đợi xác minh')")
    page.get_by_text("Đang chờ xác minh").wait_for()
    with site.factory() as session:
        assert session.scalars(select(VerificationRequest.subject_id)).all() == [site.no_id_id]


def test_the_station_corrects_an_identity_directly_by_the_imports_rules(site: Site, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, site.base, "tram")
    page.goto(f"{site.base}/subjects/{site.no_id_id}")
    page.get_by_role("link", name="Chỉnh sửa trực tiếp thông tin cá nhân").click()
    page.get_by_label("Số CCCD/CMND").fill("099 089 012 345")
    page.get_by_label("Lý do chỉnh sửa").fill("Theo CCCD gia đình cung cấp")
    page.get_by_role("button", name="Lưu thay đổi").click()
    page.get_by_text("099 không phải mã tỉnh").wait_for()
    assert page.get_by_label("Lý do chỉnh sửa").input_value() == "Theo CCCD gia đình cung cấp"
    page.get_by_label("Số CCCD/CMND").fill("1190000456")  # Excel's lost zeros, repaired as the import does
    page.get_by_label("Ngày sinh").fill("09.07.1990")
    page.get_by_role("button", name="Lưu thay đổi").click()
    page.wait_for_selector(".flash-success:has-text('Đã lưu thay đổi')")
    main = page.locator("main").inner_text()
    assert "001190000456" in main and "Chưa xác minh" in main
    with site.factory() as session:
        subject = session.get(Subject, site.no_id_id)
        assert subject is not None and (subject.id_number, subject.verification_category) == ("001190000456", None)
