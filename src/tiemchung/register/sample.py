"""A tiny sample register and matching subjects, to try the service by hand (`tiemchung register sample`) and to
test it: a handful of people whose expected answers are obvious from the spec's rules.

The expected categories are stated next to each subject so that a reader can check them against section 3 of the
interchange spec without running anything.
"""

from pathlib import Path

from tiemchung.interchange.results import SUBJECT_COLUMNS, Category, SubjectQuery

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

SAMPLE_REGISTER: tuple[tuple[str, ...], ...] = (
    ("001085012345", "", "Nguyễn Văn An", "1985-03-02", "M", "01", "001", "00001", "Số 1 Hàng Bạc"),
    ("079190000001", "023456789", "Trần Thị Bình", "1990-07-15", "F", "79", "760", "26734", "12 Lê Lợi"),
    ("036201000123", "", "Lê Hoàng Cường", "2001-11-30", "M", "36", "356", "13675", "Xóm 3"),
    ("048175000777", "", "Phạm Thị Dung", "1975", "F", "48", "490", "20194", ""),
    ("001300000042", "", "Đỗ Minh Em", "2000-01-09", "F", "01", "005", "00160", "Ngõ 5 Kim Mã"),
)

# (query, the category the spec's rules give)
SAMPLE_SUBJECTS: tuple[tuple[SubjectQuery, Category], ...] = (
    (SubjectQuery("S-1", "Nguyễn Văn An", "1985-03-02", "M", "001085012345"), Category.VERIFIED),
    (SubjectQuery("S-2", "Trần Thị Bình", "1990-07-15", "F", "023456789"), Category.VERIFIED),  # CMND
    (SubjectQuery("S-3", "Lê Hoàng Cường", "2001-11-30", "F", "036201000123"), Category.MISMATCH),  # sex
    (SubjectQuery("S-4", "Phạm Thị Dung", "1975-05-05", "F", "048175000777"), Category.VERIFIED),  # year only
    (SubjectQuery("S-5", "Đỗ Minh Em", "2000-01-09", "F", "001300999999"), Category.MISMATCH),  # ID not held
    (SubjectQuery("S-6", "John Smith", "1980-01-01", "M", None, "C1234567", "GB"), Category.FOREIGN_PASSPORT),
)


def write_sample(out_dir: Path) -> tuple[Path, Path]:
    """Write `register.parquet` (section 1) and `subjects.csv` (the subjects file); return their paths."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    register = out_dir / "register.parquet"
    columns = list(zip(*SAMPLE_REGISTER, strict=True))
    pq.write_table(
        pa.table({name: list(values) for name, values in zip(REGISTER_COLUMNS, columns, strict=True)}), register
    )
    subjects = out_dir / "subjects.csv"
    rows = [{name: getattr(query, name) for name in SUBJECT_COLUMNS} for query, _ in SAMPLE_SUBJECTS]
    schema = pa.schema([(name, pa.string()) for name in SUBJECT_COLUMNS])
    pacsv.write_csv(pa.Table.from_pylist(rows, schema=schema), subjects)
    return register, subjects
