"""Every report URL × every format × accounts scoped to a province, a district and a commune (issue 16, item 2).

The report scope used to be the first two digits of the account's area: a "province" account for district 021
(Bắc Từ Liêm, Hà Nội) read province 02's reports (Hà Giang). Each account must see exactly its own area: the
subject keys, facility names and provinces of other areas appear in no page, workbook, CSV or JSON answer.
"""

import re
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.models import Dose, Facility, Role, Subject, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings

PASSWORD = "mat-khau-dai-du-manh-2023"
# (marker, province, district, ward, facility name): a subject and a facility in each place.
PLACES = {
    "BTL": ("01", "021", "00595", "Trạm Y tế Thượng Cát"),  # Bắc Từ Liêm, Hà Nội
    "BD": ("01", "001", "00001", "Trạm Y tế Phúc Xá"),  # Ba Đình, Hà Nội
    "HG": ("02", "024", "00688", "Trạm Y tế Quang Trung"),  # Thành phố Hà Giang, Hà Giang
}
# account: (area code, the places it covers)
ACCOUNTS = {
    "huyen021": ("021", {"BTL"}),
    "tinh01": ("01", {"BTL", "BD"}),
    "xa00001": ("00001", {"BD"}),
    "tinh02": ("02", {"HG"}),
    "bo": ("", {"BTL", "BD", "HG"}),
}
REPORTS = ("verification", "appendix1", "units", "quality")
REPORT_URLS = ["/reports", *(f"/reports/{name}{suffix}" for name in REPORTS for suffix in ("", ".xlsx", ".csv"))]
JSON_URLS = [f"/api/v1/reports/{name}" for name in REPORTS]


def _populate(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        for marker, (province, district, ward, facility_name) in PLACES.items():
            session.add(Facility(code=f"F-{marker}", name=facility_name, province_code=province,
                                 district_code=district, ward_code=ward))  # fmt: skip
            subject = Subject(
                subject_key=f"{marker}-1", full_name_raw="Lê Thị Hoa", full_name="Lê Thị Hoa",
                name_canonical="lê thị hoa", name_folded="le thi hoa", birth_date="2025-01-01", birth_year=2025,
                verification_category="VERIFIED", province_code=province, district_code=district, ward_code=ward,
            )  # fmt: skip
            session.add(subject)
            # A dose before the birth date: the quality report lists the subject's key.
            session.add(Dose(record_id=f"{marker}-d1", subject=subject, vaccine="Pfizer", dose_kind="1",
                             vaccination_date=date(2022, 1, 1), facility_code=f"F-{marker}"))  # fmt: skip
        hashed = hash_password(PASSWORD)
        for username, (area, _places) in ACCOUNTS.items():
            role = Role.MINISTRY if username == "bo" else Role.PROVINCE
            session.add(User(username=username, full_name=username, password_hash=hashed, role=role.value,
                             area_code=area))  # fmt: skip


@pytest.fixture
def clients(session_factory: sessionmaker[Session], tmp_path: Path) -> dict[str, TestClient]:
    _populate(session_factory)
    app = create_app(Settings(secret_key="test-secret", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    result = {}
    for username in ACCOUNTS:
        client = TestClient(app, follow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
        assert answer.status_code == 303
        result[username] = client
    return result


def _text(url: str, content: bytes) -> str:
    if url.endswith(".xlsx"):
        workbook = load_workbook(BytesIO(content))
        return "\n".join(str(cell) for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row)
    return content.decode("utf-8-sig")


def _forbidden(covered: set[str]) -> list[str]:
    """What an account covering `covered` must never see: other places' subject keys, facilities, provinces."""
    found = []
    for marker, (province, _district, _ward, facility) in PLACES.items():
        if marker not in covered:
            found += [f"{marker}-1", facility]
            if province not in {PLACES[m][0] for m in covered}:
                found.append("Hà Giang" if province == "02" else "Hà Nội")
    return found


@pytest.mark.parametrize("username", [name for name in ACCOUNTS if name != "bo"])
def test_each_account_reads_only_its_own_area_in_every_report_and_format(
    clients: dict[str, TestClient], username: str
) -> None:
    _area, covered = ACCOUNTS[username]
    for url in REPORT_URLS + JSON_URLS:
        answer = clients[username].get(url)
        assert answer.status_code == 200, (username, url, answer.text[:300])
        text = _text(url, answer.content)
        leaked = [marker for marker in _forbidden(covered) if marker in text]
        assert not leaked, (username, url, leaked)
    keys = {row["subject_key"] for row in _section(clients[username], "quality", 2)["rows"]}
    assert keys == {f"{marker}-1" for marker in covered}, username
    appendix = _section(clients[username], "appendix1", 0)["rows"]
    assert appendix[-1]["o_entered"] == len(covered), username  # the total counts the area's doses only


def test_the_ministry_sees_everything_and_can_narrow_to_a_district(clients: dict[str, TestClient]) -> None:
    keys = {row["subject_key"] for row in _section(clients["bo"], "quality", 2)["rows"]}
    assert keys == {"BTL-1", "BD-1", "HG-1"}
    narrowed = clients["bo"].get("/api/v1/reports/quality?province=01&district=021").json()
    assert narrowed["area"]["code"] == "021"
    assert {row["subject_key"] for row in narrowed["sections"][2]["rows"]} == {"BTL-1"}


@pytest.mark.parametrize(
    ("username", "query", "status", "area"),
    [
        ("huyen021", "province=02", 403, ""),  # another province
        ("huyen021", "province=01&district=001", 403, ""),  # another district of its own province
        ("huyen021", "province=01", 200, "021"),  # its own province: still only its district
        ("tinh01", "province=01&district=024", 403, ""),  # a district of another province
        ("bo", "province=02&district=021", 200, "02"),  # a district left over from another province is ignored
        ("xa00001", "province=01&district=001&ward=00004", 403, ""),  # the next ward (Trúc Bạch)
        ("tinh01", "province=99", 422, ""),  # no such province
        ("tinh01", "as_of=31-01-2023", 422, ""),
    ],
)
def test_choosing_an_area_outside_ones_own_is_refused(
    clients: dict[str, TestClient], username: str, query: str, status: int, area: str
) -> None:
    for url in (f"/reports/appendix1?{query}", f"/reports/quality.csv?{query}", f"/api/v1/reports/units?{query}"):
        answer = clients[username].get(url)
        assert answer.status_code == status, (username, url, answer.text[:200])
    if status == 200:
        assert clients[username].get(f"/api/v1/reports/appendix1?{query}").json()["area"]["code"] == area


def _section(client: TestClient, report: str, index: int) -> dict[str, object]:
    answer = client.get(f"/api/v1/reports/{report}")
    assert answer.status_code == 200, answer.text
    section: dict[str, object] = answer.json()["sections"][index]
    return section
