"""What the report downloads hold: no live formula from imported data (issue 16, item 8), rates as percentages,
CSV for Excel, the data's own date, totals rows, and the quality report's reads in the audit log (item 14)."""

import csv
import re
from datetime import date
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.models import AuditEvent, Dose, Facility, Role, Subject, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings

PASSWORD = "mat-khau-dai-du-manh-2023"
FORMULA = '=HYPERLINK("http://example.invalid/x","Bấm vào đây")'


@pytest.fixture
def ministry(session_factory: sessionmaker[Session], tmp_path: Path) -> TestClient:
    with session_factory() as session, session.begin():
        session.add(Facility(code="@F1", name=FORMULA, province_code="01", district_code="001", ward_code="00001"))
        subject = Subject(
            subject_key=FORMULA, full_name_raw="Lê Thị Hoa", full_name="Lê Thị Hoa", name_canonical="lê thị hoa",
            name_folded="le thi hoa", birth_date="2021-06-01", birth_year=2021, verification_category="VERIFIED",
            province_code="01", district_code="001", ward_code="00001",
        )  # fmt: skip
        adult = Subject(
            subject_key="s-adult", full_name_raw="Lê Văn Nam", full_name="Lê Văn Nam", name_canonical="lê văn nam",
            name_folded="le van nam", birth_date="1980-01-01", birth_year=1980, verification_category="VERIFIED",
            province_code="01", district_code="001", ward_code="00001",
        )  # fmt: skip
        session.add_all([subject, adult])
        session.add(Dose(record_id="r1", subject=subject, vaccine="Pfizer", dose_kind="1",
                         vaccination_date=date(2021, 5, 1), facility_code="@F1"))  # fmt: skip
        for record_id, kind in (("a1", "1"), ("a2", "1")):  # two first doses of adults, no second: 100 % drop-out
            other = Subject(
                subject_key=f"s-{record_id}", full_name_raw="X", full_name="X", name_canonical="x", name_folded="x",
                birth_date="1970-01-01", birth_year=1970, province_code="01", district_code="001", ward_code="00001",
            )  # fmt: skip
            session.add(Dose(record_id=record_id, subject=other, vaccine="Pfizer", dose_kind=kind,
                             vaccination_date=date(2022, 2, 3), facility_code="@F1"))  # fmt: skip
        session.add(Dose(record_id="a3", subject=adult, vaccine="Pfizer", dose_kind="1",
                         vaccination_date=date(2022, 1, 1), facility_code="@F1"))  # fmt: skip
        session.add(Dose(record_id="a4", subject=adult, vaccine="Pfizer", dose_kind="2",
                         vaccination_date=date(2022, 2, 1), facility_code="@F1"))  # fmt: skip
        session.add(User(username="bo", full_name="bo", password_hash=hash_password(PASSWORD), role=Role.MINISTRY.value,
                         area_code=""))  # fmt: skip
    app = create_app(Settings(secret_key="test-secret", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"username": "bo", "password": PASSWORD, "csrf_token": token.group(1)})
    return client


@pytest.mark.parametrize("report", ["verification", "appendix1", "units", "quality"])
def test_no_download_carries_a_formula_from_the_data(ministry: TestClient, report: str) -> None:
    workbook = load_workbook(BytesIO(ministry.get(f"/reports/{report}.xlsx").content))
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and "HYPERLINK" in cell.value:
                    assert cell.data_type == "s" and cell.value.startswith("'="), (report, sheet.title, cell.value)
    for line in csv.reader(StringIO(ministry.get(f"/reports/{report}.csv").content.decode("utf-8-sig"))):
        formulas = [field for field in line if field.startswith(("=", "+", "-", "@")) and not _number(field)]
        assert not formulas, (report, line)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_imported_formulas_appear_as_text_where_they_are_listed(ministry: TestClient) -> None:
    units = load_workbook(BytesIO(ministry.get("/reports/units.xlsx").content))["Phụ lục 2"]
    assert "'" + FORMULA in [cell for row in units.iter_rows(values_only=True) for cell in row]
    quality = load_workbook(BytesIO(ministry.get("/reports/quality.xlsx").content))["Mũi tiêm bất thường"]
    assert quality["B2"].value == "'" + FORMULA
    rows = csv.reader(StringIO(ministry.get("/reports/quality.csv").content.decode("utf-8-sig")))
    assert "'" + FORMULA in [field for row in rows for field in row]


def test_rates_are_percentages_in_the_workbook_and_the_page(ministry: TestClient) -> None:
    sheet = load_workbook(BytesIO(ministry.get("/reports/quality.xlsx").content))["Tỷ lệ bỏ mũi"]
    headers = [cell.value for cell in sheet[1]]
    column = headers.index("Tỷ lệ bỏ mũi") + 1
    rates = [(sheet.cell(row=r, column=column).value, sheet.cell(row=r, column=column).number_format)
             for r in range(2, sheet.max_row + 1)]  # fmt: skip
    assert rates and all(fmt == "0.0%" for _, fmt in rates)
    assert any(isinstance(value, float) and 0 < value < 1 for value, _ in rates), rates  # a real fraction, not 0
    assert sheet.cell(row=sheet.max_row, column=1).value == "Tổng cộng"
    page = ministry.get("/reports/quality").text
    assert re.search(r"<td class=\"num\">66,7\s%</td>", page), "3 first doses, 1 second: 66,7 % drop-out"
    assert '<tr class="total">' in page


def test_csv_is_for_excel_and_the_date_is_the_datas(ministry: TestClient) -> None:
    answer = ministry.get("/reports/appendix1.csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel reads the diacritics
    assert answer.content.decode("utf-8-sig").splitlines()[0].startswith("TT,Mã tỉnh,Tỉnh/TP")
    page = ministry.get("/reports/appendix1").text
    assert "Số liệu tính đến ngày <strong>03/02/2022</strong>" in page  # the latest dose entered
    workbook = load_workbook(BytesIO(ministry.get("/reports/appendix1.xlsx").content))["Phụ lục 1"]
    assert workbook["A2"].value == "(Số liệu tính đến ngày 03/02/2022)"
    narrowed = ministry.get("/reports/appendix1?as_of=2022-01-15").text
    assert "Số liệu tính đến ngày <strong>15/01/2022</strong>" in narrowed


def test_every_read_of_the_quality_report_is_audited(
    ministry: TestClient, session_factory: sessionmaker[Session]
) -> None:
    for url in ("/reports/quality", "/reports/quality.csv", "/api/v1/reports/quality?province=01"):
        assert ministry.get(url).status_code == 200
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "quality_report")).all()
    assert [(event.actor, event.action) for event in events] == [("bo", "read")] * 3
    assert FORMULA in events[0].detail["subject_keys"]
    assert events[2].entity_id == "01"
