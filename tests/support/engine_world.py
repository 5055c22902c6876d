"""A small register built in code and subjects that exercise every rule of spec section 3 (engine tests on
DuckDB and on Spark use the same input)."""

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
REGISTER = [
    ("001090000001", "012345678", "Nguyễn Văn Hùng", "1990-05-12", "M", "01", "001", "00001", ""),
    ("001190000002", "", "Trần Thị Thủy", "1990-07-01", "F", "01", "001", "00001", ""),
    ("079085000003", "023456789", "Lê Văn Nam", "1985-03-03", "M", "79", "760", "26734", ""),
    # A CMND issued twice: both holders keep it as old_id.
    ("079185000004", "023456789", "Phạm Thị Lan", "1985-11-20", "F", "79", "760", "26734", ""),
    ("038050000005", "", "Hoàng Văn Bảy", "1950", "M", "38", "380", "14755", ""),
    ("036201000006", "", "Đỗ Minh Khoa", "2001-09-09", "M", "36", "356", "13684", ""),
    ("001198000007", "", "Nguyễn Thị Hoa", "1998-02-14", "F", "01", "001", "00004", ""),
    # Two people identical in every compared field: nobody may be matched to either of them.
    ("026203000008", "", "Vũ Đức Anh", "2003-04-04", "M", "26", "243", "08800", ""),
    ("026203000009", "", "Vũ Đức Anh", "2003-04-04", "M", "26", "243", "08800", ""),
]

NFD_OLD_TONE_NAME = "TRẦN  thị thuỷ".replace("Ầ", "A\u0302\u0300")


def subject(subject_id: str, name: str, birth: str, sex: str, id_number: str = "", **more: str) -> dict[str, str]:
    base = {
        "subject_id": subject_id,
        "full_name": name,
        "birth_date": birth,
        "sex": sex,
        "id_number": id_number,
        "nationality": "",
        "passport_number": "",
        "province_code": "01",
        "district_code": "001",
        "ward_code": "00001",
    }
    return base | more


HCM = {"province_code": "79", "district_code": "760", "ward_code": "26734"}
SUBJECTS = [
    subject("S01", "Nguyễn Văn Hùng", "12/05/1990", "Nam", "001090000001"),
    subject("S02", NFD_OLD_TONE_NAME, "1990-07-01", "Nữ", "001 190 000 002"),
    subject("S03", "Nguyễn Văn Hùng", "12/05/1990", "Nam", "1090000001"),
    subject("S04", "Nguyễn Văn Hùng", "12/05/1990", "Nam", "001090999999"),
    subject("S05", "Nguyen Van Hung", "12/05/1990", "Nam", "001090000001"),
    subject("S06", "Nguyễn Văn Hùng", "13/05/1990", "Nữ", "001090000001"),
    subject("S07", "Phạm Thị Lan", "20/11/1985", "Nữ", "023456789", **HCM),
    subject("S08", "Lê Văn Nam", "1985-03-03", "Nam", "23456789", **HCM),
    subject("S09", "Hoàng Văn Bảy", "05/06/1950", "Nam", "038050000005"),
    subject("S10", "John Smith", "1980-01-01", "Nam", "", nationality="US", passport_number="X1234567"),
    subject("S11", "Đỗ Minh Khoa", "09/09/2001", "Nam", "", province_code="36", district_code="356", ward_code="13684"),
    subject("S12", "Nguyễn Văn An", "1970", "Nam", "12345"),
    subject("S13", "Nguyễn Thị Hoa", "14/02/1998", "Nữ", "001198000070", ward_code="00004"),
    subject("S14", "Vũ Đức Anh", "04/04/2003", "Nam", "", province_code="26", district_code="243", ward_code="08800"),
]


def write_register(path: Path) -> Path:
    columns = list(zip(*REGISTER, strict=True))
    table = pa.table({name: list(values) for name, values in zip(REGISTER_COLUMNS, columns, strict=True)})
    pq.write_table(table, path)
    return path


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
