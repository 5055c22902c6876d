"""`generate`: the synthetic country written to disk chunk by chunk, in bounded memory.

Each chunk of `CHUNK_PEOPLE` people gets its own random generator derived from (seed, chunk number), and the
only state carried across chunks is small (ID counters, facility counters, aggregate tallies): the output
is a function of the seed and the size, whatever the machine.
"""

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tiemchung.reference import DoseKind, ReasonGroup
from tiemchung.synth import damage, foreigners, text
from tiemchung.synth.geography import Geography, area_for_scale, load_geography
from tiemchung.synth.population import IdentityCounters, People, make_people, register_table, serials_in_buckets
from tiemchung.synth.tables import province_weights
from tiemchung.synth.truth import write_truth
from tiemchung.synth.vaccination import (
    AGE_GROUPS,
    DOSE_KINDS,
    DUPLICATE_RATE,
    REASON_GROUP_COUNT,
    REGISTRATION_PLACES,
    THIRD_REGISTRATION_RATE,
    VACCINES,
    EntryPlan,
    Schedules,
    age_group_index,
    choose_facilities,
    lot_numbers,
    make_schedules,
    plan_entry,
)
from tiemchung.synth.xlsx import HEADERS, RecordsWorkbook

SCALES: dict[str, int] = {
    "commune": 10_000,
    "district": 150_000,
    "province": 1_500_000,
    "nation": 100_000_000,
}
CHUNK_PEOPLE = 200_000
MAX_PEOPLE = 150_000_000  # ID ranges (10^6 per province, century, sex and year) stay far from full below this
FOREIGN_RATE = 0.003
ROW_RETYPE_RATE = 0.02  # later dose rows whose name was typed again, differently
RECORD_COLUMNS = tuple(HEADERS)  # interchange spec section 2, in order
FILES = (
    "register.parquet",
    "records.parquet",
    "records.xlsx",
    "truth_subjects.parquet",
    "aggregates.parquet",
    "gaps.parquet",
    "manifest.json",
)


@dataclass
class Manifest:
    seed: int
    people: int
    scale: str | None
    province_codes: list[str]
    district_code: str | None
    ward_code: str | None
    counts: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass
class _Tallies:
    """Doses per (province, age group, dose kind), entered, and not entered per reason group."""

    entered: np.ndarray
    not_entered: np.ndarray
    counts: dict[str, int]

    @classmethod
    def empty(cls) -> "_Tallies":
        provinces = len(province_weights().values)
        return cls(
            entered=np.zeros((provinces, 3, 6), dtype=np.int64),
            not_entered=np.zeros((provinces, 3, 6, REASON_GROUP_COUNT), dtype=np.int64),
            counts=dict.fromkeys(("people", "register", "subjects", "doses", "duplicates", "foreigners"), 0),
        )


class _Writers:
    def __init__(self, out_dir: Path, work_dir: Path, xlsx_max_rows: int) -> None:
        self.out_dir = out_dir
        self.paths = {
            "register": out_dir / "register.parquet",
            "records": out_dir / "records.parquet",
            "subjects": work_dir / "subjects.parquet",
        }
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.workbook = RecordsWorkbook(out_dir / "records.xlsx", xlsx_max_rows)

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(self.paths[name], table.schema, compression="zstd")
        self._writers[name].write_table(table)

    def close(self) -> bool:
        for writer in self._writers.values():
            writer.close()
        return self.workbook.close()


def generate(
    out_dir: Path,
    *,
    people: int,
    seed: int,
    progress: bool = True,
    xlsx_max_rows: int = 200_000,
    province_codes: Sequence[str] | None = None,
    scale: str | None = None,
) -> Manifest:
    """Write the synthetic country for `people` people into `out_dir` (see docs/synth.md).

    `scale` "commune", "district" or "province" puts everyone in one ward, district or province chosen by
    the seed (among `province_codes` when given); without it they live in `province_codes` (default: all).
    """
    from rich.progress import Progress

    if not 0 < people <= MAX_PEOPLE:
        raise ValueError(f"people must be in 1..{MAX_PEOPLE}")
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = out_dir / ".synth-work"
    work_dir.mkdir(exist_ok=True)
    area = area_for_scale(scale, seed, province_codes)
    geography = load_geography(area)
    # about 2.35 doses per person: far above the limit, do not start a workbook only to give it up
    writers = _Writers(out_dir, work_dir, xlsx_max_rows if people * 2 <= xlsx_max_rows else 0)
    tallies = _Tallies.empty()
    state = _ChunkState(geography, seed)
    chunk_sizes = [min(CHUNK_PEOPLE, people - start) for start in range(0, people, CHUNK_PEOPLE)]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("Đang sinh dân cư và mũi tiêm", total=people)
        for index, size in enumerate(chunk_sizes):
            _generate_chunk(np.random.default_rng([seed, index]), size, state, writers, tallies)
            bar.advance(task, size)
        wrote_xlsx = writers.close()
        bar.add_task("Đang tính kết quả xác minh kỳ vọng", total=None)

        write_truth(writers.paths["subjects"], writers.paths["register"], out_dir / "truth_subjects.parquet", work_dir)
    _write_aggregates(out_dir, tallies, geography)
    shutil.rmtree(work_dir)
    manifest = Manifest(
        seed=seed,
        people=people,
        scale=scale,
        province_codes=[str(code) for code in geography.province_codes],
        district_code=area.district_code,
        ward_code=area.ward_code,
        counts=tallies.counts,
        files=[name for name in FILES if name != "records.xlsx" or wrote_xlsx],
    )
    _summarise_truth(manifest, out_dir / "truth_subjects.parquet")
    manifest.write(out_dir / "manifest.json")
    return manifest


@dataclass
class _ChunkState:
    geography: Geography
    seed: int
    identities: IdentityCounters = field(default_factory=IdentityCounters)
    facility_serials: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    global_province: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    subjects_so_far: int = 0

    def __post_init__(self) -> None:
        self.facility_serials = np.zeros(len(self.geography.facility_codes), dtype=np.int64)
        everywhere = list(province_weights().values)
        self.global_province = np.array([everywhere.index(code) for code in self.geography.province_codes])


@dataclass
class _Subjects:
    """Subjects of a chunk: nationals (first) then foreigners; doses as (subject row, slot) pairs."""

    person: np.ndarray  # index into people, -1 for foreigners
    ward: np.ndarray  # where the subject lives now (the register's ward unless moved)
    moves: np.ndarray  # object: the MOVED_* kind of a subject living elsewhere than the register says, or ""
    birth: np.ndarray
    facility: np.ndarray
    duplicate_of_row: np.ndarray  # row of the original subject, -1 if not a duplicate
    dose_subject: np.ndarray
    dose_slot: np.ndarray
    dose_dates: np.ndarray  # (rows, 6)
    dose_vaccine: np.ndarray  # (rows, 6)


def _generate_chunk(
    rng: np.random.Generator, size: int, state: _ChunkState, writers: _Writers, tallies: _Tallies
) -> None:
    geography = state.geography
    people = make_people(rng, size, geography, state.identities, state.seed)
    register = register_table(people, geography)
    writers.write("register", register)
    schedules = make_schedules(rng, people.birth)
    entry = plan_entry(rng, schedules)
    province = state.global_province[geography.ward_province_index[people.ward]]
    _tally_not_entered(tallies, province, people.birth, schedules.dates, entry.reason_group)
    visitors = foreigners.make_foreigners(rng, int(rng.binomial(size, FOREIGN_RATE)), geography)
    subjects = _subjects(rng, people, entry, schedules, visitors, geography)
    national = subjects.person >= 0
    typed = damage.concatenate(
        damage.type_nationals(rng, people, subjects.person[national], subjects.moves[national]), visitors.typed
    )
    subject_ids = _subject_ids(subjects.facility, state)
    records, hints = _records(rng, subjects, typed, subject_ids, people, visitors, geography)
    _mark_retyped(records, typed, subject_ids)
    writers.write("records", records)
    writers.workbook.append(records, hints)
    truth_input = _truth_input(subjects, typed, subject_ids, people, geography, state.subjects_so_far)
    writers.write("subjects", truth_input)
    state.subjects_so_far += truth_input.num_rows
    _tally_entered(tallies, state, subjects)
    counts = tallies.counts
    counts["people"] += size
    counts["register"] += register.num_rows
    counts["subjects"] += len(subjects.person)
    counts["doses"] += records.num_rows
    counts["duplicates"] += int((subjects.duplicate_of_row >= 0).sum())
    counts["foreigners"] += len(visitors.birth)


def _tally_entered(tallies: _Tallies, state: _ChunkState, subjects: _Subjects) -> None:
    """Entered doses per (province, age group on the day of the dose, dose kind)."""
    geography = state.geography
    dose_ward = subjects.ward[subjects.dose_subject]
    province = state.global_province[geography.ward_province_index[dose_ward]]
    on = subjects.dose_dates[subjects.dose_subject, subjects.dose_slot]
    groups = age_group_index(subjects.birth[subjects.dose_subject], on)
    np.add.at(tallies.entered, (province, groups, subjects.dose_slot), 1)


def _tally_not_entered(
    tallies: _Tallies, province: np.ndarray, birth: np.ndarray, dates: np.ndarray, reason: np.ndarray
) -> None:
    person, slot = np.nonzero(reason >= 0)
    groups = age_group_index(birth[person], dates[person, slot])
    np.add.at(tallies.not_entered, (province[person], groups, slot, reason[person, slot]), 1)


def _subjects(
    rng: np.random.Generator,
    people: People,
    entry: EntryPlan,
    schedules: Schedules,
    visitors: foreigners.Foreigners,
    geography: Geography,
) -> _Subjects:
    person = np.flatnonzero(entry.entered_person)
    entered = entry.dose_entered[person]
    # vaccinated where they live now: the facility follows the subject's current ward
    ward, moves = damage.move_residences(rng, people.ward[person], geography)
    facility = choose_facilities(rng, ward, geography)
    registrations = _registrations(rng, entered)
    copies, copy_of, copy_ward, copy_moves, copy_facility = _later_registrations(
        rng, registrations, people.ward[person], ward, moves, facility, geography
    )
    copy_entered = registrations[copy_of] == copies[:, None]
    entered &= registrations == 0
    dose_subject, dose_slot = np.nonzero(np.concatenate([entered, copy_entered, visitors.entered]))
    return _Subjects(
        person=np.concatenate([person, person[copy_of], np.full(len(visitors.birth), -1)]),
        ward=np.concatenate([ward, copy_ward, visitors.ward]),
        moves=np.concatenate([moves, copy_moves, np.full(len(visitors.birth), "", dtype=object)]),
        birth=np.concatenate([people.birth[person], people.birth[person[copy_of]], visitors.birth]),
        facility=np.concatenate([facility, copy_facility, choose_facilities(rng, visitors.ward, geography)]),
        duplicate_of_row=np.concatenate([np.full(len(person), -1), copy_of, np.full(len(visitors.birth), -1)]),
        dose_subject=dose_subject,
        dose_slot=dose_slot,
        dose_dates=np.concatenate(
            [schedules.dates[person], schedules.dates[person[copy_of]], visitors.schedules.dates]
        ),
        dose_vaccine=np.concatenate(
            [schedules.vaccine[person], schedules.vaccine[person[copy_of]], visitors.schedules.vaccine]
        ),
    )


def _registrations(rng: np.random.Generator, entered: np.ndarray) -> np.ndarray:
    """Which registration (0 the first, 1, 2) entered each dose of each subject; -1 where no dose.

    DUPLICATE_RATE of subjects with at least two doses were registered again for their later doses, a quarter of
    those with three or more doses (THIRD_REGISTRATION_RATE) a third time: the doses split in date order at random
    points, each registration keeping at least one dose."""
    count = entered.sum(axis=1)
    again = (count >= 2) & (rng.random(len(count)) < DUPLICATE_RATE)
    third = again & (count >= 3) & (rng.random(len(count)) < THIRD_REGISTRATION_RATE)
    # first cut after dose 1..count-1; the second after a later dose, up to count-1
    first_cut = np.where(third, rng.integers(1, np.maximum(count - 1, 2)), rng.integers(1, np.maximum(count, 2)))
    second_cut = np.where(third, first_cut + rng.integers(1, np.maximum(count - first_cut, 2)), 99)
    ordinal = np.cumsum(entered, axis=1)
    later = (ordinal > first_cut[:, None]).astype(np.int64) + (ordinal > second_cut[:, None])
    registration = np.where(again[:, None], later, 0)
    return np.where(entered, registration, -1)


def _later_registrations(
    rng: np.random.Generator,
    registrations: np.ndarray,
    register_ward: np.ndarray,
    ward: np.ndarray,
    moves: np.ndarray,
    facility: np.ndarray,
    geography: Geography,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The subjects of the later registrations: (registration number, original row, ward, move kind, facility).

    Where (REGISTRATION_PLACES): the ward's other facility, the station of another ward of the province (the
    person gives their own address), or a facility of another province (a migrant worker at a workplace campaign
    gives their address there: the record's residence is that ward, a move for the register)."""
    last = registrations.max(axis=1)
    copy_of = np.concatenate([np.flatnonzero(last >= 1), np.flatnonzero(last >= 2)])
    copies = np.concatenate([np.ones(int((last >= 1).sum()), dtype=np.int64), np.full(int((last >= 2).sum()), 2)])
    order = np.argsort(copy_of, kind="stable")
    copy_of, copies = copy_of[order], copies[order]
    own = ward[copy_of]
    at_station = facility[copy_of] < len(geography.ward_codes)
    own_other = np.where(at_station, geography.centre_facility(own), geography.station_facility(own))
    places = list(REGISTRATION_PLACES)
    place = rng.choice(len(places), size=len(copy_of), p=np.array(list(REGISTRATION_PLACES.values())))
    copy_ward = own.copy()
    copy_facility = own_other.copy()
    elsewhere = np.flatnonzero(place == places.index("same_province"))
    target = geography.other_wards(rng, own[elsewhere], "district")
    found = target >= 0
    copy_facility[elsewhere[found]] = geography.station_facility(target[found])
    migrant = np.flatnonzero(place == places.index("other_province"))
    target = geography.other_wards(rng, own[migrant], "province")
    found = target >= 0
    copy_ward[migrant[found]] = target[found]
    copy_facility[migrant[found]] = geography.station_facility(target[found])
    copy_moves = moves[copy_of].copy()
    relocated = copy_ward != own
    copy_moves[relocated] = _move_kind(register_ward[copy_of][relocated], copy_ward[relocated], geography)
    return copies, copy_of, copy_ward, copy_moves, copy_facility


def _move_kind(register_ward: np.ndarray, ward: np.ndarray, geography: Geography) -> np.ndarray:
    """The MOVED_* kind of living in `ward` for someone the register holds in `register_ward`."""
    same_district = geography.ward_district_index[register_ward] == geography.ward_district_index[ward]
    same_province = geography.ward_province_index[register_ward] == geography.ward_province_index[ward]
    kind = np.where(same_district, "MOVED_WARD", np.where(same_province, "MOVED_DISTRICT", "MOVED_PROVINCE"))
    return np.where(register_ward == ward, "", kind).astype(object)


def _subject_ids(facility: np.ndarray, state: _ChunkState) -> np.ndarray:
    """`{facility_code}-{n}`: the facility's own running number."""
    serial = serials_in_buckets(facility, state.facility_serials) + 1
    codes = pa.array(state.geography.facility_codes).take(pa.array(facility))
    joined = pc.binary_join_element_wise(codes, pc.cast(pa.array(serial), pa.string()), "-")
    return np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)


# Day-first layouts offices type, with their shares: 17/05/1990, 17/5/1990, 17-05-1990, 17.05.1990.
_DAY_FIRST_LAYOUTS = ("{d:02d}/{m:02d}/{y}", "{d}/{m}/{y}", "{d:02d}-{m:02d}-{y}", "{d:02d}.{m:02d}.{y}")
_DAY_FIRST_SHARES = (0.7, 0.15, 0.1, 0.05)


def _birth_text(rng: np.random.Generator, shown: np.ndarray, style: np.ndarray) -> np.ndarray:
    """The Parquet text of a typed birth date (Excel dates as ISO text: Parquet has no cell types)."""
    layout = rng.choice(len(_DAY_FIRST_LAYOUTS), size=len(shown), p=_DAY_FIRST_SHARES)
    day_first = np.array(
        [
            _DAY_FIRST_LAYOUTS[k].format(d=int(v[8:10]), m=int(v[5:7]), y=v[:4]) if len(v) == 10 else v
            for v, k in zip(shown, layout, strict=True)
        ],
        dtype=object,
    )
    return np.where(style == damage.BIRTH_TEXT_DMY, day_first, shown)


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string())


def _subject_columns(
    rng: np.random.Generator,
    subjects: _Subjects,
    typed: damage.Typed,
    subject_ids: np.ndarray,
    people: People,
    visitors: foreigners.Foreigners,
    geography: Geography,
) -> dict[str, pa.Array]:
    """The per-subject values of the section 2 columns (repeated on each of the subject's doses)."""
    national = subjects.person >= 0
    count = len(subjects.person)
    passport = np.full(count, "", dtype=object)
    passport[~national] = visitors.passport
    nationality = np.where(rng.random(count) < 0.05, np.where(rng.random(count) < 0.5, "VN", "Việt Nam"), "")
    nationality = nationality.astype(object)
    nationality[~national] = visitors.nationality
    address = np.full(count, "", dtype=object)
    address[national] = people.address[subjects.person[national]]
    moved = subjects.moves != ""
    address[moved] = geography.ward_place[subjects.ward[moved]]
    address[rng.random(count) < 0.3] = ""
    mobile_prefix = pa.array(["03", "05", "07", "08", "09"]).take(pa.array(rng.integers(0, 5, count)))
    subscriber = pc.cast(pa.array(rng.integers(10_000_000, 99_999_999, count)), pa.string())
    phone = pc.if_else(
        pa.array(rng.random(count) < 0.35), "", pc.binary_join_element_wise(mobile_prefix, subscriber, "")
    )
    ward = pa.array(subjects.ward)
    return {
        "subject_id": _strings(subject_ids),
        "full_name": _strings(typed.full_name),
        "birth_date": _strings(_birth_text(rng, typed.birth_shown, typed.birth_style)),
        "sex": _strings(typed.sex_typed),
        "id_number": _strings(typed.id_typed),
        "passport_number": _strings(passport),
        "nationality": _strings(nationality),
        "phone": phone,
        "province_code": pa.array(geography.province_codes[geography.ward_province_index]).take(ward),
        "district_code": pa.array(geography.ward_district_codes).take(ward),
        "ward_code": pa.array(geography.ward_codes).take(ward),
        "address": _strings(address),
        "facility_code": pa.array(geography.facility_codes).take(pa.array(subjects.facility)),
    }


def _records(
    rng: np.random.Generator,
    subjects: _Subjects,
    typed: damage.Typed,
    subject_ids: np.ndarray,
    people: People,
    visitors: foreigners.Foreigners,
    geography: Geography,
) -> tuple[pa.Table, pa.Table]:
    """Section 2 rows (one per dose) and the cell hints of the xlsx export."""

    per_subject = _subject_columns(rng, subjects, typed, subject_ids, people, visitors, geography)
    rows = pa.array(subjects.dose_subject)
    slot = subjects.dose_slot
    dates = subjects.dose_dates[subjects.dose_subject, slot]
    vaccine = subjects.dose_vaccine[subjects.dose_subject, slot]
    # dose number within the subject (rows are sorted by subject), for the record_id
    sequence = np.arange(len(slot)) - np.searchsorted(subjects.dose_subject, subjects.dose_subject) + 1
    subject_id = per_subject["subject_id"].take(rows)
    per_dose = {
        "record_id": pc.binary_join_element_wise(subject_id, pc.cast(pa.array(sequence), pa.string()), "-"),
        "vaccine": pa.array([v.name for v in VACCINES]).take(pa.array(vaccine)),
        "lot_number": lot_numbers(rng, vaccine, dates),
        "vaccination_date": pc.cast(pc.cast(pa.array(dates), pa.date32()), pa.string()),
        "dose": pa.array([DoseKind(kind).spec_value for kind in DOSE_KINDS]).take(pa.array(slot)),
    }
    columns = {name: per_dose[name] if name in per_dose else per_subject[name].take(rows) for name in RECORD_COLUMNS}
    columns["full_name"] = _retype_some_names(
        rng, columns["full_name"], sequence, typed.name_font[subjects.dose_subject]
    )
    records = pa.table(columns)
    hints = pa.table(
        {
            "name_font": _strings(typed.name_font).take(rows),
            "id_numeric": pa.array(typed.id_numeric).take(rows),
            "birth_style": pa.array(typed.birth_style).take(rows),
            "vaccination_date_as_text": pa.array(rng.random(len(slot)) < 0.1),
        }
    )
    return records, hints


def _retype_some_names(rng: np.random.Generator, names: pa.Array, sequence: np.ndarray, font: np.ndarray) -> pa.Array:
    """A later dose row of some subjects carries the name re-typed differently (harmlessly): rows of one
    subject that disagree are themselves a data-quality finding (spec section 2)."""
    chosen = np.flatnonzero((sequence > 1) & (font == "") & (rng.random(len(sequence)) < ROW_RETYPE_RATE))
    if not len(chosen):
        return names
    values = np.asarray(names.to_numpy(zero_copy_only=False), dtype=object)
    for row in chosen:
        values[row] = text.extra_spaces(values[row], rng) if rng.random() < 0.5 else text.change_case(values[row], rng)
    return _strings(values)


def _mark_retyped(records: pa.Table, typed: damage.Typed, subject_ids: np.ndarray) -> None:
    """Add ROWS_DISAGREE to the error kinds of subjects whose rows do not carry the same name."""
    names = (
        records.select(["subject_id", "full_name"]).group_by("subject_id").aggregate([("full_name", "count_distinct")])
    )
    disagreeing = names.filter(pc.greater(names.column("full_name_count_distinct"), 1)).column("subject_id")
    rows = np.flatnonzero(np.isin(subject_ids, np.asarray(disagreeing.to_pylist(), dtype=object)))
    typed.errors[rows] = [f"{errors};ROWS_DISAGREE" if errors else "ROWS_DISAGREE" for errors in typed.errors[rows]]


def _truth_input(
    subjects: _Subjects,
    typed: damage.Typed,
    subject_ids: np.ndarray,
    people: People,
    geography: Geography,
    first_ordinal: int,
) -> pa.Table:
    """What each subject's typed values mean, for the truth join (`truth.write_truth`)."""
    national = subjects.person >= 0
    person = subjects.person[national]
    person_id = np.full(len(subjects.person), "", dtype=object)
    in_register = np.zeros(len(subjects.person), dtype=bool)
    in_register[national] = people.in_register[person]
    person_id[national] = np.where(people.in_register[person], people.person_id[person], "")
    duplicate_of = np.where(subjects.duplicate_of_row >= 0, subject_ids[np.maximum(subjects.duplicate_of_row, 0)], "")
    return pa.table(
        {
            "ordinal": pa.array(np.arange(first_ordinal, first_ordinal + len(national), dtype=np.int64)),
            "subject_id": pa.array(subject_ids, pa.string()),
            "person_id": pa.array(person_id, pa.string()),
            "in_register": pa.array(in_register),
            "is_foreign": pa.array(~national),
            "ward_code": pa.array(geography.ward_codes[subjects.ward], pa.string()),
            "id_typed": pa.array(typed.id_typed, pa.string()),
            "name_meaning": pa.array(typed.name_meaning, pa.string()),
            "birth_meaning": pa.array(typed.birth_meaning, pa.string()),
            "sex_meaning": pa.array(typed.sex_meaning, pa.string()),
            "errors": pa.array(typed.errors, pa.string()),
            "is_duplicate_of": pa.array(duplicate_of, pa.string()),
        }
    )


def _write_aggregates(out_dir: Path, tallies: _Tallies, geography: Geography) -> None:
    """aggregates.parquet (reported vs entered per cell) and gaps.parquet (never entered, by reason group)."""

    everywhere = province_weights().values
    reasons = [group.value for group in ReasonGroup]
    aggregate_rows: dict[str, list[object]] = {
        k: [] for k in ("province_code", "age_group", "dose_kind", "reported", "entered")
    }
    gap_rows: dict[str, list[object]] = {
        k: [] for k in ("province_code", "age_group", "dose_kind", "reason_group", "doses_not_entered")
    }
    for province in sorted(everywhere.index(code) for code in geography.province_codes):
        for group, group_name in enumerate(AGE_GROUPS):
            for slot, kind in enumerate(DOSE_KINDS):
                entered = int(tallies.entered[province, group, slot])
                not_entered = tallies.not_entered[province, group, slot]
                if entered == 0 and not not_entered.any():
                    continue
                for name, value in zip(
                    aggregate_rows,
                    (everywhere[province], group_name, kind, entered + int(not_entered.sum()), entered),
                    strict=True,
                ):
                    aggregate_rows[name].append(value)
                for reason_index in np.flatnonzero(not_entered):
                    values = (
                        everywhere[province],
                        group_name,
                        kind,
                        reasons[reason_index],
                        int(not_entered[reason_index]),
                    )
                    for name, value in zip(gap_rows, values, strict=True):
                        gap_rows[name].append(value)
    pq.write_table(_int_table(aggregate_rows, ("reported", "entered")), out_dir / "aggregates.parquet")
    pq.write_table(_int_table(gap_rows, ("doses_not_entered",)), out_dir / "gaps.parquet")


def _int_table(rows: dict[str, list[object]], integer_columns: tuple[str, ...]) -> pa.Table:
    return pa.table(
        {
            name: pa.array(values, pa.int64() if name in integer_columns else pa.string())
            for name, values in rows.items()
        }
    )


def _summarise_truth(manifest: Manifest, truth: Path) -> None:
    """Realised category counts and the seed-000 rates they are calibrated to."""
    table = pq.read_table(truth, columns=["expected_category"])
    counts = pc.value_counts(table.column("expected_category")).to_pylist()
    manifest.categories = {item["values"]: item["counts"] for item in counts}
    c = manifest.categories
    with_id = c.get("VERIFIED", 0) + c.get("MISMATCH", 0)
    without_id = c.get("NO_ID_VERIFIED", 0) + c.get("NO_ID_UNVERIFIABLE", 0)
    national = with_id + without_id
    manifest.rates = {
        "with_valid_id": round(with_id / national, 4) if national else 0.0,
        "wrong_among_with_id": round(c.get("MISMATCH", 0) / with_id, 4) if with_id else 0.0,
        "without_valid_id": round(without_id / national, 4) if national else 0.0,
        "identified_among_without_id": round(c.get("NO_ID_VERIFIED", 0) / without_id, 4) if without_id else 0.0,
    }
    manifest.targets = {
        "with_valid_id": round(73_406_707 / 82_268_445, 4),
        "wrong_among_with_id": round(18_937_554 / 73_406_707, 4),
        "without_valid_id": round(8_861_748 / 82_268_445, 4),
        "identified_among_without_id": round(7_035_356 / 8_861_748, 4),
    }
