"""Linkage without an ID on a register built in code: people who moved, near misses, a twin's ID (issue 17).

The shipped model answers (no workdir): residence is evidence, never a gate; a birth year one off, a dropped
middle name and a one-letter typo are graded, not disagreements; a twin's typed ID proposes the twin whose name
and birth date agree.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiemchung.interchange.results import Category, Reason, SubjectQuery
from tiemchung.register.linkage.engine import RegisterIndex, evidence_path

REGISTER_COLUMNS = (
    "person_id",
    "old_id",
    "full_name",
    "birth_date",
    "sex",
    "province_code",
    "district_code",
    "ward_code",
    "address",
)
HOME = ("36", "356", "13684")
REGISTER = [
    ("036201000006", "", "Đỗ Minh Khoa", "2001-09-09", "M", *HOME, "Thôn 2"),
    # Same name, born 22 years before, in the district the first one moved to: not him.
    ("079179000010", "", "Đỗ Minh Khoa", "1979-02-02", "M", "79", "760", "26740", "Tổ 5"),
    ("079188000011", "", "Lê Thị Hồng Nhung", "1988-06-30", "F", "79", "760", "26734", "Tổ 7"),
    # Twins: same family, birth date, ward and address.
    ("001095000012", "", "Phan Văn Minh", "1995-03-08", "M", "01", "001", "00001", "12 Tổ 3"),
    ("001095481337", "", "Phan Văn Mạnh", "1995-03-08", "M", "01", "001", "00001", "12 Tổ 3"),
    ("001160000014", "", "Trần Thị Thu", "1960-10-10", "F", "01", "001", "00001", "12 Tổ 3"),
]


def query(
    subject_id: str, name: str, birth: str, sex: str, where: tuple[str, str, str], id_number: str = ""
) -> SubjectQuery:
    province, district, ward = where
    return SubjectQuery(
        subject_id,
        name,
        birth,
        sex,
        id_number=id_number,
        province_code=province,
        district_code=district,
        ward_code=ward,
    )


SAIGON = ("79", "760", "26734")
SAIGON_NEXT_WARD = ("79", "760", "26737")
HANOI = ("01", "001", "00004")
FOUND = {
    # moved: another ward of the district, another district, another province
    "moved to another ward": (query("M1", "Đỗ Minh Khoa", "09/09/2001", "Nam", ("36", "356", "13687")), "036201000006"),
    "moved to another district": (
        query("M2", "Đỗ Minh Khoa", "09/09/2001", "Nam", ("36", "357", "13700")),
        "036201000006",
    ),
    "moved to another province": (query("M3", "Do Minh Khoa", "09/09/2001", "Nam", SAIGON), "036201000006"),
    # near misses
    "birth year one off": (query("Y1", "Lê Thị Hồng Nhung", "30/06/1989", "Nữ", SAIGON), "079188000011"),
    # a near miss and a move together (two discrepancies) are found when the move stays in the district; a
    # near miss from another province is too weak evidence without an ID (docs/verification.md)
    # here only the full name + day and month block meets the register row:
    "birth year one off, moved": (
        query("Y2", "Lê Thị Hồng Nhung", "30/06/1987", "Nữ", SAIGON_NEXT_WARD),
        "079188000011",
    ),
    "middle name dropped": (query("D1", "Lê Thị Nhung", "30/06/1988", "Nữ", SAIGON), "079188000011"),
    "middle name dropped, moved": (query("D2", "Lê Thị Nhung", "30/06/1988", "Nữ", SAIGON_NEXT_WARD), "079188000011"),
    "middle name added": (query("A1", "Đỗ Văn Minh Khoa", "09/09/2001", "Nam", HOME), "036201000006"),
    "one-letter typo": (query("T1", "Lê Thị Hồng Nhunh", "30/06/1988", "Nữ", SAIGON), "079188000011"),
    "one-letter typo, moved": (
        query("T2", "Đỗ Mimh Khoa", "09/09/2001", "Nam", ("36", "356", "13687")),
        "036201000006",
    ),
}


@pytest.fixture(scope="module")
def register_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("register") / "register.parquet"
    columns = list(zip(*REGISTER, strict=True))
    pq.write_table(pa.table({name: list(v) for name, v in zip(REGISTER_COLUMNS, columns, strict=True)}), path)
    return path


@pytest.fixture(scope="module")
def index(register_file: Path) -> RegisterIndex:
    opened = RegisterIndex.open(register_file, threads=1)
    yield opened
    opened.close()


@pytest.mark.parametrize("case", list(FOUND))
def test_no_id_people_who_moved_or_were_typed_nearly_right_are_found(index: RegisterIndex, case: str) -> None:
    subject, person_id = FOUND[case]
    result = index.verify_one(subject)
    assert (result.category, result.matched_person_id) == (Category.NO_ID_VERIFIED, person_id), case


def test_a_twins_id_proposes_the_twin_whose_name_and_birth_date_agree(index: RegisterIndex) -> None:
    twin = query("W1", "Phan Văn Mạnh", "08/03/1995", "Nam", ("01", "001", "00001"), id_number="001095000012")
    result = index.verify_one(twin)
    assert (result.category, result.reasons) == (Category.MISMATCH, (Reason.NAME,))
    assert result.matched_person_id == "001095481337"
    relative = query("W2", "Trần Thị Thu", "10/10/1960", "Nữ", ("01", "001", "00001"), id_number="001095000012")
    result = index.verify_one(relative)
    assert result.matched_person_id == "001160000014"


def test_batch_gives_the_online_answers(index: RegisterIndex, tmp_path: Path) -> None:
    """Through Splink's batch scoring, the same answers as online."""
    subjects = [
        FOUND["moved to another province"][0],
        FOUND["birth year one off, moved"][0],
        query("W1", "Phan Văn Mạnh", "08/03/1995", "Nam", ("01", "001", "00001"), id_number="001095000012"),
    ]
    rows = [
        {
            "subject_id": s.subject_id,
            "full_name": s.full_name,
            "birth_date": s.birth_date,
            "sex": s.sex,
            "id_number": s.id_number or "",
            "province_code": s.province_code or "",
            "district_code": s.district_code or "",
            "ward_code": s.ward_code or "",
        }
        for s in subjects
    ]
    records = tmp_path / "subjects.parquet"
    pq.write_table(pa.Table.from_pylist(rows), records)
    out = tmp_path / "results.parquet"
    index.verify_batch(records, out)
    answers = {row["subject_id"]: row["matched_person_id"] for row in pq.read_table(out).to_pylist()}
    assert answers == {"M3": "036201000006", "Y2": "079188000011", "W1": "001095481337"}
    online = {s.subject_id: index.verify_one(s).matched_person_id for s in subjects}
    assert online == answers
    evidence = {row["subject_id"]: row for row in pq.read_table(evidence_path(out)).to_pylist()}
    assert evidence["W1"]["id_relation"] == "id_of_a_housemate"
