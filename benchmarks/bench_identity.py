"""Benchmark: name canonicalisation, fold and ID checks at a million rows, in Python and in DuckDB SQL.

    .venv/bin/python benchmarks/bench_identity.py --rows 1000000

Names are drawn with realistic repetition (the spec's family-name shares, common middle and given names) and
damaged like real cells (NFD, old tone placement, capitals, extra spaces); ID cells mix valid numbers, lost
leading zeros, separators, Excel floats and junk. Each Python function runs with a cold cache.
"""

import argparse
import random
import time
import unicodedata
from collections.abc import Callable, Sequence

FAMILY_SHARES = {
    "Nguyễn": 38.0, "Trần": 11.0, "Lê": 9.5, "Phạm": 7.1, "Hoàng": 2.6, "Huỳnh": 2.5, "Phan": 4.5, "Vũ": 2.0,
    "Võ": 1.9, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1.0, "Lý": 0.5,
    "Đinh": 0.5, "Trịnh": 0.4, "Mai": 0.4, "Hà": 0.4,
}  # fmt: skip


def _words(text: str) -> list[str]:
    return text.split()


MIDDLE = _words("Văn Thị Hữu Đức Minh Ngọc Thanh Thu Quốc Xuân Kim Bảo Thùy Hoài Diệu Trọng Gia Khánh Phương Anh")
GIVEN = _words(
    "An Anh Ánh Bình Chi Cường Dũng Duy Đạt Giang Hà Hải Hằng Hiền Hòa Hùng Hương Huy Khánh Khoa Lan Linh Long "
    "Mai My Nam Nga Ngân Nhung Oanh Phúc Phương Quân Quý Sơn Tâm Thảo Thủy Trang Trí Tú Tuấn Uyên Vy Yến Thúy "
    "Hoa Thoa Xoan Tuyết Huyền Khỏe Lợi Nghĩa Tùng Vinh Hưng Toàn Thắng Loan"
)
PREFIXES = ["001", "079", "038", "040", "036", "001", "031", "048", "092", "075"]


def make_names(rows: int, rng: random.Random) -> list[str]:
    family = rng.choices(list(FAMILY_SHARES), weights=list(FAMILY_SHARES.values()), k=rows)
    names = []
    for index in range(rows):
        words = [family[index], rng.choice(MIDDLE), rng.choice(GIVEN)]
        if rng.random() < 0.3:
            words.insert(2, rng.choice(MIDDLE))
        names.append(_damage(" ".join(words), rng))
    return names


def _damage(name: str, rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.05:
        return unicodedata.normalize("NFD", name)
    if draw < 0.10:
        return name.upper()
    if draw < 0.15:
        return name.replace("òa", "oà").replace("ủy", "uỷ").replace("úy", "uý").replace("ỏe", "oẻ")
    if draw < 0.18:
        return "  " + name.replace(" ", "  ") + " "
    return name


def make_ids(rows: int, rng: random.Random) -> list[object]:
    cells: list[object] = []
    for _ in range(rows):
        number = (
            rng.choice(PREFIXES) + str(rng.randrange(10)) + f"{rng.randrange(100):02d}" + f"{rng.randrange(10**6):06d}"
        )
        draw = rng.random()
        if draw < 0.70:
            cells.append(number)
        elif draw < 0.80:
            cells.append(number.lstrip("0"))
        elif draw < 0.85:
            cells.append(float(number))
        elif draw < 0.90:
            cells.append(f"{number[:3]} {number[3:6]} {number[6:]}")
        elif draw < 0.95:
            cells.append(f"{rng.randrange(10**9):09d}")
        else:
            cells.append(rng.choice(["", "không có", "B1234567", "12345", None]))
    return cells


Timing = tuple[str, float, float]  # label, wall-clock seconds, CPU seconds of this process


def timed(label: str, function: Callable[[object], object], values: Sequence[object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    for value in values:
        function(value)
    return label, time.perf_counter() - wall, time.process_time() - cpu


def bench_python(names: list[str], ids: list[object]) -> list[Timing]:
    from tiemchung.identity import canonical_name, check_id_number, decode_legacy, fold_name
    from tiemchung.identity.names import _canonical

    _canonical.cache_clear()  # a cold cache: the run pays for every distinct name
    return [
        timed("canonical_name", canonical_name, names),  # type: ignore[arg-type]
        timed("fold_name", fold_name, names),  # type: ignore[arg-type]
        timed("decode_legacy (no font: detect)", decode_legacy, names),  # type: ignore[arg-type]
        timed("check_id_number", check_id_number, ids),
    ]


def bench_duckdb(names: list[str]) -> list[Timing]:
    import duckdb
    import pyarrow as pa

    from tiemchung.identity import canonical_name_sql, fold_name_sql

    connection = duckdb.connect()
    connection.register("names", pa.table({"full_name": names}))
    results = []
    for label, expression in (
        ("DuckDB canonical_name_sql", canonical_name_sql("full_name")),
        ("DuckDB fold_name_sql", fold_name_sql("full_name")),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        connection.execute(f"create or replace table out as select {expression} as v from names")
        results.append((label, time.perf_counter() - wall, time.process_time() - cpu))
    connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    names = make_names(args.rows, rng)
    ids = make_ids(args.rows, rng)
    print(f"rows: {args.rows:,}; distinct names: {len(set(names)):,}; distinct ID cells: {len(set(map(str, ids))):,}")
    from tiemchung.identity import check_id_number

    check_id_number("001089012345")  # load the province table once, outside the timings
    print(f"{'':36s} {'wall s':>8s} {'CPU s':>8s} {'M rows/s (wall)':>16s}")
    for label, wall, cpu in [*bench_python(names, ids), *bench_duckdb(names)]:
        print(f"{label:36s} {wall:8.2f} {cpu:8.2f} {args.rows / wall / 1e6:16.2f}")


if __name__ == "__main__":
    main()
