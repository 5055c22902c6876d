"""Benchmark of the registry's import paths: an .xlsx workbook through `import_records`, Parquet through `load_parquet`.

    .venv/bin/python benchmarks/bench_import.py --rows 100000 --parquet-doses 10000000 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test [--sqlite] [--compare-summary]

Each measurement runs in a child process on a fresh database (a new PostgreSQL database created beside the one in
the URL, or a new SQLite file), and reports wall time and the child's peak resident memory. The data are generated
here: about 2.4 doses per subject, valid CCCD numbers, with a share of the damage the import repairs (lost leading
zeros, dates as text). `--compare-summary` measures each load a second time with the triggers of the summary of
entered doses dropped: the difference is what keeping appendix 1's summary costs the loads.
"""

import argparse
import multiprocessing
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang", "Thanh", "Kim"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phương", "Quân", "Thảo", "Tuấn"]
VACCINES = ["AstraZeneca", "Pfizer", "Moderna", "Vero Cell", "Sputnik V"]
DOSES = ["1", "2", "Nhắc lại 1", "Nhắc lại 2"]
HEADERS = ["Mã đối tượng", "Mã mũi tiêm", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD/CMND", "Số hộ chiếu",
           "Quốc tịch", "Số điện thoại", "Mã tỉnh", "Mã huyện", "Mã xã", "Địa chỉ", "Tên vắc xin", "Số lô",
           "Ngày tiêm", "Mũi tiêm", "Mã cơ sở tiêm chủng"]  # fmt: skip
KEYS = ["subject_id", "record_id", "full_name", "birth_date", "sex", "id_number", "passport_number", "nationality",
        "phone", "province_code", "district_code", "ward_code", "address", "vaccine", "lot_number",
        "vaccination_date", "dose", "facility_code"]  # fmt: skip


def generate_rows(doses: int, seed: int = 7) -> Iterator[list[Any]]:
    """`doses` rows of the records format, subjects with 1-4 doses each."""
    from tiemchung.reference import districts, provinces, wards

    rng = random.Random(seed)
    areas = [
        (p.code, d.code, w.code) for p in provinces()[:8] for d in districts(p.code)[:3] for w in wards(d.code)[:4]
    ]
    written = 0
    subject = 0
    while written < doses:
        subject += 1
        sex = rng.choice("MF")
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
        gender_digit = (0 if birth.year < 2000 else 2) + (sex == "F")
        province, district, ward = rng.choice(areas)
        cccd = f"0{province}{gender_digit}{birth.year % 100:02d}{rng.randrange(10**6):06d}"
        id_number = cccd.lstrip("0") if rng.random() < 0.1 else cccd  # spreadsheet damage: lost leading zeros
        name = f"{rng.choice(FAMILY)} {'Thị' if sex == 'F' else 'Văn'} {rng.choice(GIVEN)}"
        phone = f"09{rng.randrange(10**8):08d}"
        first_dose = date(2021, 6, 1) + timedelta(days=rng.randrange(200))
        for number in range(min(rng.choice((1, 2, 2, 3, 3, 4)), doses - written)):
            when = first_dose + timedelta(days=60 * number)
            yield [
                f"S{subject}",
                f"R{subject}-{number}",
                name,
                f"{birth:%d/%m/%Y}",
                "Nam" if sex == "M" else "Nữ",
                id_number,
                "",
                "",
                phone,
                province,
                district,
                ward,
                "Thôn 1",
                rng.choice(VACCINES),
                f"L{rng.randrange(999)}",
                f"{when:%d/%m/%Y}",
                DOSES[number],
                "CS01",
            ]
            written += 1


def write_workbook(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADERS)
    for row in generate_rows(rows):
        sheet.append(row)
    workbook.save(path)


def write_parquet(path: Path, doses: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(key, pa.string()) for key in KEYS])
    with pq.ParquetWriter(path, schema) as writer:
        chunk: list[list[Any]] = []
        for row in generate_rows(doses):
            chunk.append(row)
            if len(chunk) == 500_000:
                writer.write_table(pa.table(list(zip(*chunk, strict=True)), schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.table(list(zip(*chunk, strict=True)), schema=schema))


def fresh_postgres(server_url: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from tiemchung.health.registry.db import make_engine

    name = f"tiemchung_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres(server_url: str, url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from tiemchung.health.registry.db import make_engine

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'drop database if exists "{make_url(url).database}" with (force)'))
    admin.dispose()


def registry(url: str, *, summary: bool = True) -> Any:
    """A fresh registry's engine; `summary=False` drops the triggers of the summary of entered doses, to measure
    what maintaining it costs (the platform never runs without them)."""
    from sqlalchemy import text

    from tiemchung.health.registry.db import create_schema, make_engine

    engine = make_engine(url)
    create_schema(engine)
    if not summary:
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                names = connection.scalars(text("select name from sqlite_master where type = 'trigger'"))
                drops = [f"drop trigger {name}" for name in names if name.startswith("entered_dose_counts")]
            else:
                triggers = connection.execute(
                    text("select tgname, tgrelid::regclass from pg_trigger where tgname like 'entered_dose_counts%'")
                )
                drops = [f"drop trigger {name} on {table}" for name, table in triggers]
            for drop in drops:
                connection.execute(text(drop))
    return engine


def run_import(url: str, path: str, summary: bool = True) -> str:
    from tiemchung.health.registry.db import make_session_factory
    from tiemchung.health.registry.importer import import_records

    engine = registry(url, summary=summary)
    report = import_records(make_session_factory(engine), Path(path), actor="bench")
    return f"accepted={report.accepted} rejected={report.rejected} subjects={report.subjects_created}"


def run_bulk(url: str, path: str, summary: bool = True) -> str:
    from tiemchung.health.registry.bulk import load_parquet

    report = load_parquet(registry(url, summary=summary), Path(path), actor="bench")
    return f"doses={report.doses} subjects={report.subjects} rejected={report.rejected}"


def run_import_without_summary(url: str, path: str) -> str:
    return run_import(url, path, summary=False)


def run_bulk_without_summary(url: str, path: str) -> str:
    return run_bulk(url, path, summary=False)


def _peak_rss_mb() -> float:
    """VmHWM of this process. Not ru_maxrss: Linux keeps that across execve, so a spawned child would report the
    parent's peak (which generated the test data)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(job: Callable[[str, str], str], url: str, path: str, queue: Any) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    outcome = job(url, path)
    peak_mb = _peak_rss_mb()
    # CPU seconds of this process alone: on a shared machine, wall time mostly measures the other processes.
    queue.put((time.perf_counter() - started, time.process_time() - cpu_started, peak_mb, outcome))


def measure(label: str, job: Callable[[str, str], str], url: str, path: Path) -> None:
    # "spawn": a fresh interpreter, so the peak RSS is the import's own, not pages inherited from this process.
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    process = context.Process(target=_child, args=(job, url, str(path), queue))
    process.start()
    seconds, cpu_seconds, peak_mb, outcome = queue.get()
    process.join()
    load = os.getloadavg()[0]
    print(
        f"{label}: {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU (importer process), peak RSS {peak_mb:.0f} MB, "
        f"load average {load:.1f}; {outcome}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the .xlsx workbook (0: skip)")
    parser.add_argument("--parquet-doses", type=int, default=1_000_000, help="rows of the Parquet file (0: skip)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="also measure on SQLite")
    parser.add_argument(
        "--compare-summary", action="store_true", help="also measure each load without the summary's triggers"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        jobs: list[tuple[str, Callable[[str, str], str], Path]] = []
        if arguments.rows:
            workbook = work / "records.xlsx"
            started = time.perf_counter()
            write_workbook(workbook, arguments.rows)
            size_mb = workbook.stat().st_size / 1e6
            print(f"workbook: {arguments.rows:,} rows, {size_mb:.1f} MB, {time.perf_counter() - started:.1f} s")
            jobs.append((f"import_records {arguments.rows:,} rows", run_import, workbook))
            if arguments.compare_summary:
                jobs.append(
                    (f"import_records {arguments.rows:,} rows, no summary", run_import_without_summary, workbook)
                )
        if arguments.parquet_doses:
            parquet = work / "records.parquet"
            started = time.perf_counter()
            write_parquet(parquet, arguments.parquet_doses)
            print(f"parquet: {arguments.parquet_doses:,} doses, {time.perf_counter() - started:.1f} s to generate")
            jobs.append((f"load_parquet {arguments.parquet_doses:,} doses", run_bulk, parquet))
            if arguments.compare_summary:
                jobs.append((f"load_parquet {arguments.parquet_doses:,} doses, no summary", run_bulk_without_summary,
                             parquet))  # fmt: skip
        for label, job, path in jobs:
            url = fresh_postgres(arguments.postgres)
            try:
                measure(f"PostgreSQL {label}", job, url, path)
            finally:
                drop_postgres(arguments.postgres, url)
            if arguments.sqlite:
                measure(f"SQLite {label}", job, f"sqlite:///{work / f'{job.__name__}.sqlite'}", path)


if __name__ == "__main__":
    main()
