"""The upload page and API: a facility or station imports a file in the background, sees its progress and the
result, downloads the error workbook (audited); the import never blocks other users' writes."""

import io
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import record
from tiemchung.health.registry.models import AuditEvent, Dose, Facility, Role, Subject, User
from tiemchung.health.verification.models import VerificationRequest
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings

PASSWORD = "mật-khẩu-thử-nghiệm-1"


@pytest.fixture
def facility_client(session_factory: sessionmaker[Session], tmp_path: Path) -> Callable[[str], TestClient]:
    """Log-in as one of two users of facility CS01."""
    with session_factory.begin() as session:
        session.add(Facility(code="CS01", name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"))
        session.flush()
        accounts = [
            ("cs01", Role.FACILITY, "01", "CS01"),
            ("cs01b", Role.FACILITY, "01", "CS01"),
            ("nofacility", Role.FACILITY, "01", None),
            ("tram", Role.HEALTH_STATION, "00001", None),
        ]
        for name, role, area, facility in accounts:
            user = User(username=name, full_name=name, password_hash=hash_password(PASSWORD), role=role.value)
            user.area_code, user.facility_code, user.failed_logins = area, facility, 0
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


def wait_for(client: TestClient, batch_id: str, timeout: float = 60) -> str:
    """Poll the progress fragment as the page does, until the result is in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = client.get(f"/imports/progress?batch={batch_id}")
        assert fragment.status_code == 200, fragment.text
        if "hx-trigger" not in fragment.text:
            return fragment.text
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def upload(client: TestClient, path: Path, name: str = "danh-sach.xlsx") -> str:
    token = _token(client.get("/imports").text)
    files = {"file": (name, path.read_bytes(), "application/octet-stream")}
    answer = client.post("/imports", files=files, data={"csrf_token": token})
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/imports\?batch=(\d+)", answer.headers["location"])
    assert found is not None
    return found[1]


def test_upload_shows_the_result_and_serves_the_error_workbook(
    facility_client: Callable[[str], TestClient], session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path]
) -> None:
    client = facility_client("cs01")
    page = client.get("/imports")
    assert page.status_code == 200 and "Nhập tệp danh sách mũi tiêm" in page.text
    path = make_xlsx([record(), record(record_id="R2", birth_date="??"), record(record_id="R3", facility_code="X")])
    batch_id = upload(client, path)
    assert "Lần nhập " + batch_id in client.get(f"/imports?batch={batch_id}").text
    result = wait_for(client, batch_id)
    assert "Dòng bị từ chối" in result and "Mã cơ sở khác với cơ sở đang nhập" in result
    batch = re.search(r"/imports/errors\?batch=(\d+)", result)
    assert batch is not None and batch[1] == batch_id
    download = client.get(f"/imports/errors?batch={batch[1]}")
    assert download.status_code == 200 and download.content.startswith(b"PK")
    sheet = load_workbook(io.BytesIO(download.content)).active
    assert sheet is not None and sheet.max_row == 3  # header + the two rejected rows
    other = facility_client("cs01b")
    assert other.get(f"/imports/errors?batch={batch[1]}").status_code == 403
    assert other.get(f"/imports/progress?batch={batch_id}").status_code == 403
    with session_factory() as session:
        assert len(session.scalars(select(Dose)).all()) == 1
        download_event = session.scalars(select(AuditEvent).where(AuditEvent.action == "download")).one()
        assert download_event.actor == "cs01" and download_event.entity_id == batch[1]
        # Issue 15: the imported person waits for verification instead of staying "chưa xác minh" for good.
        queued = session.scalars(select(VerificationRequest.subject_id)).all()
        assert queued == session.scalars(select(Subject.id)).all() and len(queued) == 1


def test_an_unusable_upload_is_explained(facility_client: Callable[[str], TestClient], tmp_path: Path) -> None:
    client = facility_client("cs01")
    pdf = tmp_path / "ghi-chu.pdf"
    pdf.write_bytes(b"%PDF-1.7 ...")
    result = wait_for(client, upload(client, pdf, "ghi-chu.pdf"))
    assert "Không nhập được tệp" in result and "Định dạng tệp không được hỗ trợ" in result


def test_the_station_imports_its_commune_and_an_account_without_scope_imports_nothing(
    facility_client: Callable[[str], TestClient], session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path]
) -> None:
    """Issue 15: /imports answered 403 to the station, whose guide says it re-imports the corrected list.
    Issue 16: a facility account without a facility code overwrote people anywhere."""
    station = facility_client("tram")
    result = wait_for(station, upload(station, make_xlsx([record()])))
    assert "Dòng đã nhập" in result
    careless = facility_client("nofacility")
    assert "chưa được gắn cơ sở tiêm chủng" in careless.get("/imports").text
    token = _token(careless.get("/imports").text)
    files = {"file": ("x.xlsx", make_xlsx([record(full_name="Tên Bị Đổi")], name="x.xlsx").read_bytes())}
    refused = careless.post("/imports", files=files, data={"csrf_token": token})
    assert refused.status_code == 403 and "chưa được gắn cơ sở tiêm chủng" in refused.text
    with session_factory() as session:
        assert session.scalars(select(Subject.full_name)).all() == ["Nguyễn Văn An"]


def test_the_api_queues_an_import_and_reports_its_progress_and_result(
    facility_client: Callable[[str], TestClient], make_xlsx: Callable[..., Path]
) -> None:
    client = facility_client("cs01")
    token = _token(client.get("/imports").text)
    files = {"file": ("a.xlsx", make_xlsx([record(), record(record_id="R2", sex="?")]).read_bytes())}
    queued = client.post("/api/v1/imports", files=files, headers={"X-CSRF-Token": token})
    assert queued.status_code == 202, queued.text
    status_url = queued.json()["status_url"]
    deadline = time.monotonic() + 60
    while (status := client.get(status_url).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (status["rows_read"], status["rows_stored"], status["rows_rejected"]) == (2, 1, 1)
    assert status["counts"]["doses_created"] == 1 and status["errors"][0]["column"] == "sex"
    assert status["error_workbook_url"] == f"/imports/errors?batch={status['batch_id']}"
    assert client.get("/api/v1/imports/status?batch=999").status_code == 403


def test_two_imports_and_a_dose_entry_run_at_the_same_time(
    facility_client: Callable[[str], TestClient],
    session_factory: sessionmaker[Session],
    make_xlsx: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15/16: on SQLite a running import made every other write wait 30 s and fail with 503, and a second
    import died with "database is locked". Both imports and a write made meanwhile now succeed."""
    from tiemchung.health.registry import importer

    monkeypatch.setattr(importer, "BATCH_ROWS", 100)
    rows = {tag: [record(subject_id=f"{tag}{n}", record_id=f"{tag}R{n}") for n in range(1_500)] for tag in "AB"}
    files = [make_xlsx(rows[tag], name=f"{tag}.xlsx") for tag in "AB"]
    first, second = facility_client("cs01"), facility_client("cs01b")
    batches = [upload(first, files[0]), upload(second, files[1])]
    write_started = time.monotonic()
    with session_factory.begin() as session:  # another user's write while both imports run
        session.add(AuditEvent(actor="other", action="read", entity="subject", detail={}))
    assert time.monotonic() - write_started < 5
    results = [wait_for(first, batches[0], 240), wait_for(second, batches[1], 240)]
    assert all("Dòng đã nhập" in result and "1.500" in result for result in results)
    with session_factory() as session:
        assert len(session.scalars(select(Dose.id)).all()) == 3_000
