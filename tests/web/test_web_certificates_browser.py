"""The certificate pages in a real headless Chromium: the printed QR scans, a facility signs its day, /verify
answers valid, invalid and revoked. Screenshots go to docs/user-guide/img with TIEMCHUNG_UPDATE_SCREENSHOTS=1
(the user guides show them), otherwise to a temporary folder."""

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.browser import log_in, log_out
from tests.support.certificates_world import FACILITY_PASSPHRASE, certificate_world, serve
from tests.support.web_world import World
from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.models import Certificate

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "img"
    if os.environ.get("TIEMCHUNG_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "tiemchung-certificate-screenshots"
)


@pytest.fixture
def served(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, World]]:
    world = certificate_world(session_factory, tmp_path, monkeypatch)
    with serve(world) as base:
        yield base, world


def shot(page, name: str, *, full_page: bool = False) -> bytes:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    data: bytes = page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
    return data


def decode_screenshot(png: bytes) -> str | None:
    import zxingcpp
    from PIL import Image

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    return results[0].text if results else None


def _issue(page, base: str, subject_id: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/subjects/{subject_id}/certificates")
    page.get_by_role("button", name="Ký cấp chứng nhận cho các mũi đủ điều kiện").click()
    page.wait_for_selector(".flash:has-text('Đã cấp chứng nhận')")


def _hc1(world: World) -> str:
    with world.app.state.session_factory() as session:
        return str(session.scalars(select(Certificate.hc1)).one())


def test_the_printed_qr_scans_from_a_screenshot(served, browser_page) -> None:  # type: ignore[no-untyped-def]
    """Issue 15: the print page's QR was an SVG without viewBox squeezed into a smaller box, clipped, unreadable."""
    base, world = served
    page = browser_page
    log_in(page, base, "ministry")
    _issue(page, base, world.ids["home"]["subject_id"])
    page.get_by_role("link", name="Trang in").first.click()
    page.wait_for_selector("#certificate-qr svg")
    box = page.locator("#certificate-qr svg").bounding_box()
    assert box is not None and box["width"] >= 240 and abs(box["width"] - box["height"]) < 2
    png = shot(page, "chung-nhan-trang-in", full_page=True)
    assert decode_screenshot(png) == _hc1(world)


def test_a_phone_prints_the_qr_whole(served, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, world = served
    page = browser_page
    log_in(page, base, "ministry")
    _issue(page, base, world.ids["home"]["subject_id"])
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Trang in").first.click()
    page.wait_for_selector("#certificate-qr svg")
    box = page.locator("#certificate-qr svg").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert decode_screenshot(page.screenshot(full_page=True)) == _hc1(world)


def test_a_facility_signs_its_day_in_the_browser(served, browser_page) -> None:  # type: ignore[no-untyped-def]
    base, _world = served
    page = browser_page
    log_in(page, base, "facility")
    page.get_by_role("link", name="Ký số trong ngày").click()
    page.wait_for_selector("text=1 mũi tiêm chưa ký")
    assert page.locator("td:has-text('W2')").count() == 1
    shot(page, "co-so-ky-so-trong-ngay")

    page.get_by_label("Mật khẩu khóa ký của cơ sở").fill("mat-khau-sai-roi")
    page.get_by_role("button", name="Ký số 1 mũi tiêm ngày 02/03/2022").click()
    page.wait_for_selector(".flash-error:has-text('Sai mật khẩu khóa ký của cơ sở')")
    assert page.locator("td:has-text('W2')").count() == 1  # nothing signed, the list is still there

    page.set_viewport_size({"width": 390, "height": 844})  # a facility's phone: nothing sticks out sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 860})
    page.get_by_label("Mật khẩu khóa ký của cơ sở").fill(FACILITY_PASSPHRASE)
    page.get_by_role("button", name="Ký số 1 mũi tiêm ngày 02/03/2022").click()
    page.wait_for_selector(".flash:has-text('Đã ký 1 mũi tiêm của ngày 02/03/2022.')")
    assert page.get_by_text("Cơ sở không còn mũi tiêm nào chưa ký số.").is_visible()
    shot(page, "co-so-da-ky-xong")


def _verify(page, base: str, *, image: bytes | None = None, text: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/verify")
    if image is not None:
        page.set_input_files("input[name=image]", files=[{"name": "qr.png", "mimeType": "image/png", "buffer": image}])
    if text:
        page.get_by_label("hoặc dán nội dung mã").fill(text)
    page.get_by_role("button", name="Kiểm tra").click()
    page.wait_for_selector("#result, #verify-error")


def forged(hc1: str, tmp_path: Path) -> str:
    """The certificate with another person's name, signed by a key of the forger's own (not in the trust list)."""
    import cbor2

    from tiemchung.health.certificates.keys import init_keys

    message = hcert.message_of(hc1)
    assert message is not None
    claims = hcert.decode_claims(message)
    assert claims is not None
    claims[hcert.CLAIM_HCERT][hcert.HCERT_DCC_KEY]["nam"] |= {"gn": "Văn Bình", "gnt": "VAN<BINH"}
    forger = init_keys(tmp_path / "forger", b"khoa-gia-mao-1234")
    return hcert.to_hc1(hcert.sign_cose(cbor2.dumps(claims), forger))


def test_verify_answers_valid_invalid_and_revoked(served, browser_page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base, world = served
    page = browser_page
    log_in(page, base, "ministry")
    subject_id = world.ids["home"]["subject_id"]
    _issue(page, base, subject_id)
    hc1 = _hc1(world)
    log_out(page)  # waits for the log-out to land: a /verify opened at once could be overtaken by its redirect

    _verify(page, base, image=hcert.qr_png(hc1))
    assert page.locator(".verdict").inner_text().strip() == "✔ HỢP LỆ"
    shot(page, "kiem-tra-hop-le", full_page=True)

    _verify(page, base, image=hcert.qr_png(forged(hc1, tmp_path)))
    assert "KHÔNG HỢP LỆ" in page.locator(".verdict").inner_text()
    assert page.get_by_text("không có trong danh sách tin cậy").is_visible()
    shot(page, "kiem-tra-khong-hop-le", full_page=True)

    log_in(page, base, "ministry")
    page.goto(f"{base}/subjects/{subject_id}/certificates")
    page.get_by_label("Lý do thu hồi").fill("Mũi tiêm trùng lặp")
    page.get_by_role("button", name="Thu hồi").click()
    page.wait_for_selector(".flash:has-text('thu hồi')")
    _verify(page, base, image=hcert.qr_png(hc1))
    assert page.locator(".verdict").inner_text().strip() == "✘ ĐÃ BỊ THU HỒI"
    assert page.get_by_text("Chứng nhận đã bị thu hồi.").is_visible()
    shot(page, "kiem-tra-da-thu-hoi", full_page=True)
