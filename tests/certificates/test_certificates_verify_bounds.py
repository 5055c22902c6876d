"""The public /verify against the probe's bad inputs (issue 16 item 5), generated here: a zlib bomb in an HC1,
PNGs that declare 15000 x 15000 and 10000 x 10000 pixels in a few kilobytes. Each is refused with a Vietnamese
reason, in bounded memory, and none of them stops the server from answering other requests meanwhile."""

import re
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import base45
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.certificates_world import certificate_world, serve
from tests.support.web_world import World
from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.keys import TrustList
from tiemchung.health.certificates.verifier import verify_hc1

MIB = 1024 * 1024


def zlib_bomb(inflated_mib: int) -> bytes:
    """zlib of `inflated_mib` MiB of zeros, compressed piece by piece (the test never holds the inflated data)."""
    compressor = zlib.compressobj(9)
    piece = b"\0" * MIB
    return b"".join(compressor.compress(piece) for _ in range(inflated_mib)) + compressor.flush()


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of width x height: a few kilobytes that decode to width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_a_zlib_bomb_stops_at_the_bound_in_little_memory() -> None:
    bomb = zlib_bomb(100)
    tracemalloc.start()
    with pytest.raises(hcert.PayloadTooLarge):
        hcert.decompress(bomb)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * MIB  # the bound is 64 KiB; zlib.decompress of this took 100 MiB (the probe's 600: 1.3 GB)


def test_an_hc1_bomb_is_refused_with_a_reason() -> None:
    small_bomb = "HC1:" + base45.b45encode(zlib_bomb(4)).decode()  # short enough to pass the length bound
    assert len(small_bomb) < hcert.MAX_HC1_CHARS
    report = verify_hc1(small_bomb, TrustList([]))
    assert not report.valid and report.checks[-1].message_vi.startswith("Dữ liệu nén giải ra quá 64 KiB")

    huge = "HC1:" + base45.b45encode(zlib_bomb(600)).decode()
    report = verify_hc1(huge, TrustList([]))
    assert not report.valid and "Mã dài quá" in report.checks[-1].message_vi


@pytest.mark.parametrize("side", [15_000, 10_000])
def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(side: int) -> None:
    image = png_declaring(side, side)
    assert len(image) < 100_000
    started = time.perf_counter()
    reading = hcert.read_qr(image)
    assert time.perf_counter() - started < 0.5  # decoding 10000 x 10000 took 3 s
    assert reading.text is None and reading.problem_vi.startswith("Ảnh quá lớn")
    assert "tối đa 25 triệu điểm ảnh" in reading.problem_vi


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return certificate_world(session_factory, tmp_path, monkeypatch)


def _form(client: TestClient) -> dict[str, str]:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/verify").text)
    assert token is not None
    return {"csrf_token": token.group(1)}


def test_the_page_answers_every_bad_input_in_words(world: World) -> None:
    anonymous = TestClient(world.app, follow_redirects=False)
    form = _form(anonymous)
    for side in (15_000, 10_000):  # 15000 x 15000 answered 500 (Pillow's bomb error, uncaught)
        answer = anonymous.post("/verify", data=form, files={"image": ("qr.png", png_declaring(side, side))})
        assert answer.status_code == 200 and "Ảnh quá lớn" in answer.text
    answer = anonymous.post("/verify", data=form, files={"image": ("a.png", b"\x89PNG not really")})
    assert answer.status_code == 200 and "Không đọc được mã QR trong ảnh" in answer.text
    answer = anonymous.post("/verify", data={**form, "text": "HC1:" + base45.b45encode(zlib_bomb(4)).decode()})
    assert answer.status_code == 200 and "Dữ liệu nén giải ra quá 64 KiB" in answer.text
    huge = "HC1:" + base45.b45encode(zlib_bomb(600)).decode()
    answer = anonymous.post("/verify", data={**form, "text": huge})
    assert answer.status_code == 200 and "Mã dài quá" in answer.text and huge[:200] not in answer.text
    answer = anonymous.post("/verify", data={**form, "text": "HC1:" + "%" * 5_000})
    assert answer.status_code == 200 and "Base45" in answer.text


@pytest.fixture
def served(world: World) -> Iterator[str]:
    with serve(world) as base:
        yield base


def test_slow_images_never_block_other_requests(served: str) -> None:
    """Four 24-megapixel images (allowed; ~1 s of decoding each) are decoded while another page is asked for:
    run on the event loop, they made every request wait for all of them."""
    image = png_declaring(4_900, 4_900)
    with httpx.Client(base_url=served) as client:
        assert client.get("/login").status_code == 200  # warm: the first render compiles the template
        page = client.get("/verify").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form, cookies = {"csrf_token": token.group(1)}, dict(client.cookies)
    answers: list[int] = []

    def post() -> None:
        with httpx.Client(base_url=served, cookies=cookies, timeout=60) as poster:
            answers.append(poster.post("/verify", data=form, files={"image": ("big.png", image)}).status_code)

    posters = [threading.Thread(target=post) for _ in range(4)]
    for poster in posters:
        poster.start()
    waits = []
    with httpx.Client(base_url=served, timeout=30) as reader:
        while any(poster.is_alive() for poster in posters):
            started = time.perf_counter()
            assert reader.get("/login").status_code == 200
            waits.append(time.perf_counter() - started)
            time.sleep(0.05)
    assert answers == [200] * 4
    assert len(waits) >= 5 and max(waits) < 0.5, f"the log-in page waited {max(waits):.1f} s behind the images"


def test_a_burst_beyond_the_pool_is_told_to_come_back(world: World) -> None:
    from tiemchung.health.web.public_verifier import VerificationPool

    world.app.state.verification_pool = VerificationPool(workers=1, waiting=0)
    image = png_declaring(4_900, 4_900)
    anonymous = TestClient(world.app, follow_redirects=False)
    form = _form(anonymous)
    statuses: list[int] = []

    def post() -> None:
        statuses.append(anonymous.post("/verify", data=form, files={"image": ("big.png", image)}).status_code)

    posters = [threading.Thread(target=post) for _ in range(3)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join()
    assert sorted(statuses)[0] == 200 and 503 in statuses
