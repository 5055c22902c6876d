"""The report pages and downloads: the ministry sees the country, a province its own province only."""

import re
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from tests.support.reconciliation_world import RegistryIds
from tiemchung.health.registry.models import Role, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings

PASSWORD = "mat-khau-dai-du-manh-2023"


@pytest.fixture
def clients(session_factory: sessionmaker[Session], registry: RegistryIds, tmp_path: Path) -> dict[str, TestClient]:
    with session_factory() as session, session.begin():
        hashed = hash_password(PASSWORD)
        for username, role, area in (
            ("bo", Role.MINISTRY, ""),
            ("hanoi", Role.PROVINCE, "01"),
            ("tram", Role.HEALTH_STATION, "00001"),
        ):
            session.add(
                User(username=username, full_name=username, password_hash=hashed, role=role.value, area_code=area)
            )
    app = create_app(Settings(secret_key="test-secret", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    result = {}
    for username in ("bo", "hanoi", "tram"):
        client = TestClient(app, follow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
        assert answer.status_code == 303
        result[username] = client
    return result  # fmt: skip


def test_ministry_sees_every_report_and_download(clients: dict[str, TestClient]) -> None:
    client = clients["bo"]
    dashboard = client.get("/reports")
    assert dashboard.status_code == 200 and "<svg" in dashboard.text
    assert "Tỷ lệ đối tượng đã xác minh đúng" in dashboard.text
    for page in ("verification", "appendix1", "units", "quality"):
        assert client.get(f"/reports/{page}").status_code == 200, page
        assert client.get(f"/reports/{page}.csv").status_code == 200, page
        workbook = client.get(f"/reports/{page}.xlsx")
        assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats"), page
        load_workbook(BytesIO(workbook.content))
    csv = client.get("/reports/appendix1.csv?as_of=2023-01-31").text.splitlines()
    assert csv[0].startswith("\ufeffTT,Mã tỉnh,Tỉnh/TP,c. Mũi 1")  # for Excel: a BOM, Vietnamese headings
    assert len(csv) == 1 + 64 + 1  # 63 provinces, the unknown-province row, the total
    assert csv[-1].split(",")[-4] == "12"  # o of the national line


def test_province_user_sees_only_their_province(clients: dict[str, TestClient]) -> None:
    client = clients["hanoi"]
    rows = client.get("/reports/verification.csv").text.split("\n\n")[1].splitlines()[1:]
    assert {row.split(",")[1] for row in rows} == {"01", ""}  # Hà Nội and the (empty) unknown row, the total
    assert client.get("/reports/appendix1?province=79").status_code == 403
    page = client.get("/reports/appendix1.csv").text
    assert ",79," not in page
    assert clients["tram"].get("/reports").status_code == 403


def test_the_dashboard_map_fills_each_province_by_its_rate_and_links_it(clients: dict[str, TestClient]) -> None:
    page = clients["bo"].get("/reports").text
    provinces = re.findall(
        r'<a class="province" href="([^"]+)" aria-label="([^"]+)" data-code="(\d\d)"><title>[^<]*</title>'
        r'<path d="M[^"]+" fill="(#[0-9a-f]{6})"/></a>',
        page,
    )
    assert len(provinces) == 2 * 63  # both maps: verification rate and gap
    verified = {code: (href, label, fill) for href, label, code, fill in provinces[:63]}
    assert verified["01"] == ("/reports?province=01", "Hà Nội: 67%", "#f46d43")  # 2 of 3 verified: the 50–70 % step
    assert verified["02"] == ("/reports?province=02", "Hà Giang: chưa có số liệu", "#d9dce1")
    assert "Xem số liệu dạng bảng" in page and "Quần đảo Hoàng Sa" in page
