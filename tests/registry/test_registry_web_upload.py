"""The upload page: a facility user imports a file, sees the result, downloads the error workbook (audited)."""

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import record
from tiemchung.registry.models import AuditEvent, Dose, Facility, Role, User
from tiemchung.web.app import create_app
from tiemchung.web.security import hash_password
from tiemchung.web.settings import Settings

PASSWORD = "mật-khẩu-thử-nghiệm-1"


@pytest.fixture
def facility_client(session_factory: sessionmaker[Session], tmp_path: Path) -> Callable[[str], TestClient]:
    """Log-in as one of two users of facility CS01."""
    with session_factory.begin() as session:
        session.add(Facility(code="CS01", name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"))
        session.flush()
        for name in ("cs01", "cs01b"):
            user = User(username=name, full_name=name, password_hash=hash_password(PASSWORD), role=Role.FACILITY.value)
            user.area_code, user.facility_code, user.failed_logins = "01", "CS01", 0
            session.add(user)
    app = create_app(Settings(secret_key="test", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    app.state.imports_dir = tmp_path / "imports"

    def login(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]})
        assert answer.status_code == 303, answer.text
        return client

    return login


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found[1]


def test_upload_shows_the_result_and_serves_the_error_workbook(
    facility_client: Callable[[str], TestClient], session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path]
) -> None:
    client = facility_client("cs01")
    page = client.get("/imports")
    assert page.status_code == 200 and "Nhập tệp danh sách mũi tiêm" in page.text
    path = make_xlsx([record(), record(record_id="R2", birth_date="??"), record(record_id="R3", facility_code="X")])
    files = {"file": ("danh-sach.xlsx", path.read_bytes(), "application/octet-stream")}
    result = client.post("/imports", files=files, data={"csrf_token": _token(page.text)})
    assert result.status_code == 200, result.text
    assert "Dòng bị từ chối" in result.text and "Mã cơ sở khác với cơ sở đang nhập" in result.text
    batch = re.search(r"/imports/errors\?batch=(\d+)", result.text)
    assert batch is not None
    download = client.get(f"/imports/errors?batch={batch[1]}")
    assert download.status_code == 200 and download.content.startswith(b"PK")
    sheet = load_workbook(io.BytesIO(download.content)).active
    assert sheet is not None and sheet.max_row == 3  # header + the two rejected rows
    other = facility_client("cs01b")
    assert other.get(f"/imports/errors?batch={batch[1]}").status_code == 403
    with session_factory() as session:
        assert len(session.scalars(select(Dose)).all()) == 1
        download_event = session.scalars(select(AuditEvent).where(AuditEvent.action == "download")).one()
        assert download_event.actor == "cs01" and download_event.entity_id == batch[1]


def test_an_unusable_upload_is_explained(facility_client: Callable[[str], TestClient]) -> None:
    client = facility_client("cs01")
    token = _token(client.get("/imports").text)
    files = {"file": ("ghi-chu.pdf", b"%PDF-1.7 ...", "application/pdf")}
    result = client.post("/imports", files=files, data={"csrf_token": token})
    assert result.status_code == 400 and "Không nhập được tệp" in result.text
