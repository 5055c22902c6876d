"""Benchmark: the duplicates queue of the station's and province's pages at a province's size.

Fills a fresh SQLite registry with `--subjects` people of one province spread over `--wards` communes, of whom
`--groups` were registered twice (no ID, the same name, birth date, sex and province: probable pairs), stores the
pairs the detection finds (`store_pairs(find_pairs(...))`, as `tiemchung registry duplicates` does), then times
what a page does: the queue's first and last page for the province (every group) and for one commune's station, and
one comparison. Each timing is the median of `--repeat` runs, in milliseconds.

Usage:
    .venv/bin/python benchmarks/bench_duplicates_queue.py --subjects 300000 --groups 5000 --work /tmp/dupes-queue
Prints one JSON line.
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tiemchung.health.duplicates.detect import find_pairs
from tiemchung.health.duplicates.review import store_pairs
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Role, Subject, User
from tiemchung.health.web import duplicates_service as duplicates

PROVINCE, DISTRICT = "01", "001"


def _rows(subjects: int, groups: int, wards: int) -> list[dict[str, Any]]:
    rows = []
    for number in range(subjects):
        person = number if number >= 2 * groups else number // 2  # the first 2*groups rows are pairs
        ward = f"{person % wards:05d}"
        name = f"Nguyễn Văn Người {person}"
        rows.append({"subject_key": f"S{number}", "full_name_raw": name, "full_name": name,
                     "name_canonical": name.lower(), "name_folded": f"nguyen van nguoi {person}",
                     "birth_date_raw": "1980-05-01", "birth_date": "1980-05-01", "birth_year": 1980, "sex": "M",
                     "id_number_raw": "", "id_kind": "none", "id_status": "missing", "identity_findings": [],
                     "nationality": "VN", "province_code": PROVINCE, "district_code": DISTRICT, "ward_code": ward,
                     "verification_category": "NO_ID_UNVERIFIABLE", "verification_reasons": ""})  # fmt: skip
    return rows


def _median_ms(work: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=300_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--wards", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    database = args.work / "queue.sqlite"
    database.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        rows = _rows(args.subjects, args.groups, args.wards)
        for start in range(0, len(rows), 50_000):
            session.execute(insert(Subject), rows[start : start + 50_000])
        session.commit()
        started = time.perf_counter()
        stored = store_pairs(session, find_pairs(session))
        session.commit()
        detection_s = round(time.perf_counter() - started, 2)
    province = User(username="so-y-te", role=Role.PROVINCE, area_code=PROVINCE, full_name="", password_hash="")
    station = User(username="tram", role=Role.HEALTH_STATION, area_code="00001", full_name="", password_hash="")
    results: dict[str, Any] = {"subjects": args.subjects, "groups": args.groups, "wards": args.wards,
                               "pairs_stored": stored.new, "detect_and_store_s": detection_s}  # fmt: skip
    with factory() as session:
        first_page = duplicates.queue(session, province)
        results["province_groups"] = first_page.total
        results["station_groups"] = duplicates.queue(session, station).total
        last = first_page.pages
        subject_id = first_page.groups[0].subject_ids[0]
        results["province_first_page_ms"] = _median_ms(lambda: duplicates.queue(session, province), args.repeat)
        results["province_last_page_ms"] = _median_ms(
            lambda: duplicates.queue(session, province, page=last), args.repeat
        )
        results["province_name_filter_ms"] = _median_ms(
            lambda: duplicates.queue(session, province, text="nguoi 12"), args.repeat
        )
        results["station_first_page_ms"] = _median_ms(lambda: duplicates.queue(session, station), args.repeat)
        results["comparison_ms"] = _median_ms(lambda: duplicates.comparison(session, province, subject_id), args.repeat)
        session.rollback()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
