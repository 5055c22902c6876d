"""The synthetic country: formats of the interchange spec, realism, and a truth that follows the spec's rules.

One small country (2,500 people in chunks of 1,000, so that cross-chunk state is exercised) is generated once
per module; the truth is then re-derived independently, row by row, with `tiemchung.identity`.
"""

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tiemchung.identity import PartialDate, canonical_name, check_id_number, decode_legacy, parse_date, parse_sex
from tiemchung.reference import AgeGroup, DoseKind, ReasonGroup, age_group, ward
from tiemchung.synth import country as country_module
from tiemchung.synth.country import Manifest, generate
from tiemchung.synth.damage import ERROR_KINDS

REGISTER_COLUMNS = [
    "person_id",
    "old_id",
    "full_name",
    "birth_date",
    "sex",
    "province_code",
    "district_code",
    "ward_code",
    "address",
]
RECORD_COLUMNS = [
    "subject_id",
    "record_id",
    "full_name",
    "birth_date",
    "sex",
    "id_number",
    "passport_number",
    "nationality",
    "phone",
    "province_code",
    "district_code",
    "ward_code",
    "address",
    "vaccine",
    "lot_number",
    "vaccination_date",
    "dose",
    "facility_code",
]
TRUTH_COLUMNS = [
    "subject_id",
    "person_id",
    "expected_category",
    "expected_reasons",
    "expected_matched_person_id",
    "errors",
    "is_duplicate_of",
]
REASON_ORDER = ["ID_NOT_FOUND", "NAME", "BIRTH_DATE", "SEX"]
PEOPLE = 2_500


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Manifest]]:
    out = tmp_path_factory.mktemp("country")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(country_module, "CHUNK_PEOPLE", 1_000)
        # openpyxl writes ~20,000 cells/s here: the workbook is tested on its own smaller country
        manifest = generate(out, people=PEOPLE, seed=7, progress=False, xlsx_max_rows=0)
    yield out, manifest


def _rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def test_files_have_the_spec_columns_as_text(country: tuple[Path, Manifest]) -> None:
    out, manifest = country
    assert set(manifest.files) == {
        "register.parquet",
        "records.parquet",
        "truth_subjects.parquet",
        "aggregates.parquet",
        "gaps.parquet",
        "manifest.json",
    }
    for name, columns in (
        ("register.parquet", REGISTER_COLUMNS),
        ("records.parquet", RECORD_COLUMNS),
        ("truth_subjects.parquet", TRUTH_COLUMNS),
    ):
        schema = pq.read_schema(out / name)
        assert schema.names == columns
        assert all(str(field.type) == "string" for field in schema)
    assert json.loads((out / "manifest.json").read_text())["counts"]["people"] == PEOPLE
    assert not (out / ".synth-work").exists()


def test_register_identities_have_the_legal_structure(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    register = _rows(out / "register.parquet")
    assert 0.95 * PEOPLE < len(register) < PEOPLE  # about 1.5 % are absent from the register
    assert len({row["person_id"] for row in register}) == len(register)
    for row in register:
        person_id, birth = str(row["person_id"]), str(row["birth_date"])
        assert check_id_number(person_id).valid_format, person_id
        assert PartialDate.from_iso(birth) is not None and len(birth) in (4, 10)
        year = int(birth[:4])
        century_sex = (year // 100 - 19) * 2 + (1 if row["sex"] == "F" else 0)
        assert person_id[3] == str(century_sex) and person_id[4:6] == birth[2:4]
        unit = ward(str(row["ward_code"]))
        assert unit is not None
        assert (unit.district_code, unit.province_code) == (row["district_code"], row["province_code"])
        assert row["old_id"] == "" or len(str(row["old_id"])) in (9, 12)
    born_elsewhere = sum(str(r["person_id"])[1:3] != r["province_code"] for r in register)
    assert 0.05 * len(register) < born_elsewhere < 0.3 * len(register)
    assert any(len(str(r["birth_date"])) == 4 for r in register) or len(register) < 5_000


def test_register_has_twins_and_namesakes(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    register = _rows(out / "register.parquet")
    by_name_year: dict[tuple[str, str], int] = defaultdict(int)
    for row in register:
        by_name_year[(str(row["full_name"]), str(row["birth_date"])[:4])] += 1
    assert any(count > 1 for count in by_name_year.values())
    same_birth_and_address = defaultdict(list)
    for row in register:
        if row["address"]:
            same_birth_and_address[(row["birth_date"], row["address"])].append(row["full_name"])
    assert any(len(names) == 2 and names[0] != names[1] for names in same_birth_and_address.values())


def _subjects(records: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    first: dict[str, dict[str, object]] = {}
    for row in records:
        first.setdefault(str(row["subject_id"]), row)
    return first


class _Register:
    """The register rows indexed as the register side looks them up."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.by_key: dict[tuple[str, object], list[dict[str, object]]] = defaultdict(list)
        for row in rows:
            self.by_key[("person_id", row["person_id"])].append(row)
            if row["old_id"]:
                self.by_key[("old_id", row["old_id"])].append(row)
            self.by_key[("ward_code", row["ward_code"])].append(row)
        self.everyone = rows


def _expected_by_rules(subject: dict[str, object], register: _Register) -> tuple[str, str, str]:
    """Category, reasons and the person found, derived with the identity module from what was typed."""
    if subject["passport_number"]:
        return "FOREIGN_PASSPORT", "", ""
    name = canonical_name(str(subject["full_name"]))
    birth = parse_date(subject["birth_date"]).value
    sex = parse_sex(subject["sex"])

    def differences(person: dict[str, object]) -> list[str]:
        registered = PartialDate.from_iso(str(person["birth_date"]))
        found = []
        if canonical_name(str(person["full_name"])) != name:
            found.append("NAME")
        if birth is None or registered is None or not birth.agrees_with(registered):
            found.append("BIRTH_DATE")
        if person["sex"] != sex:
            found.append("SEX")
        return found

    checked = check_id_number(subject["id_number"])
    if checked.valid_format:
        key = "person_id" if checked.value and len(checked.value) == 12 else "old_id"
        holders = register.by_key[(key, checked.value)]
        if not holders:
            return "MISMATCH", "ID_NOT_FOUND", ""
        best = min((differences(person) for person in holders), key=len)
        return ("MISMATCH", ";".join(best), "") if best else ("VERIFIED", "", "")
    residents = register.by_key[("ward_code", subject["ward_code"])]
    candidates = [person for person in residents if not differences(person)]
    if not candidates:  # nobody of the ward: someone who moved, searched in the whole register
        candidates = [person for person in register.everyone if not differences(person)]
    if len(candidates) == 1:
        return "NO_ID_VERIFIED", "", str(candidates[0]["person_id"])
    return "NO_ID_UNVERIFIABLE", "", ""


def test_truth_follows_the_spec_rules_as_the_identity_module_reads_the_typed_values(
    country: tuple[Path, Manifest],
) -> None:
    out, _ = country
    register = _Register(_rows(out / "register.parquet"))
    subjects = _subjects(_rows(out / "records.parquet"))
    truth = {str(row["subject_id"]): row for row in _rows(out / "truth_subjects.parquet")}
    assert set(truth) == set(subjects)
    disagreements = []
    for subject_id, subject in subjects.items():
        category, reasons, found = _expected_by_rules(subject, register)
        row = truth[subject_id]
        if (category, reasons) != (row["expected_category"], row["expected_reasons"]) or (
            found and found != row["expected_matched_person_id"]
        ):
            disagreements.append((subject_id, category, reasons, row))
    assert disagreements == []


def test_truth_columns_are_consistent(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    register_ids = {row["person_id"] for row in _rows(out / "register.parquet")}
    truth = _rows(out / "truth_subjects.parquet")
    subject_ids = {row["subject_id"] for row in truth}
    assert len(subject_ids) == len(truth)
    for row in truth:
        reasons = str(row["expected_reasons"]).split(";") if row["expected_reasons"] else []
        assert reasons == sorted(reasons, key=REASON_ORDER.index)
        assert bool(reasons) == (row["expected_category"] == "MISMATCH")
        assert row["person_id"] == "" or row["person_id"] in register_ids
        if row["expected_category"] == "MISMATCH" and row["person_id"]:
            assert row["expected_matched_person_id"] == row["person_id"]
        if row["is_duplicate_of"]:
            assert row["is_duplicate_of"] in subject_ids
        if "NOT_IN_REGISTER" in str(row["errors"]):
            assert row["person_id"] == "" and row["expected_category"] in ("MISMATCH", "NO_ID_UNVERIFIABLE")


def test_single_error_kinds_give_their_expected_result(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    truth = _rows(out / "truth_subjects.parquet")
    seen = {kind for row in truth for kind in str(row["errors"]).split(";") if kind}
    assert seen <= ERROR_KINDS and len(seen) > 20
    harmless_only = {"NAME_NFD", "NAME_OLD_TONE", "NAME_CASE", "NAME_SPACES", "NAME_TCVN3", "NAME_VNI", "ID_LOST_ZEROS"}
    by_errors = defaultdict(list)
    for row in truth:
        by_errors[str(row["errors"])].append((row["expected_category"], row["expected_reasons"]))
    for kind in harmless_only:
        assert set(by_errors[kind]) <= {("VERIFIED", "")}, kind
    assert set(by_errors["NAME_NO_DIACRITICS"]) == {("MISMATCH", "NAME")}
    assert set(by_errors["SEX_WRONG"]) == {("MISMATCH", "SEX")}
    assert set(by_errors["BIRTH_PLACEHOLDER"]) <= {("MISMATCH", "BIRTH_DATE")}
    assert set(by_errors["ID_MISSING"]) <= {("NO_ID_VERIFIED", ""), ("NO_ID_UNVERIFIABLE", "")}
    assert ("NO_ID_VERIFIED", "") in by_errors["ID_MISSING"]


def test_rows_of_a_subject_disagree_only_harmlessly(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    names: dict[str, set[str]] = defaultdict(set)
    for row in _rows(out / "records.parquet"):
        names[str(row["subject_id"])].add(str(row["full_name"]))
    marked = {
        row["subject_id"] for row in _rows(out / "truth_subjects.parquet") if "ROWS_DISAGREE" in str(row["errors"])
    }
    assert marked == {subject for subject, typed in names.items() if len(typed) > 1}
    assert marked
    for subject in marked:
        assert len({canonical_name(name) for name in names[subject]}) == 1


def test_rates_are_near_the_seed_report(country: tuple[Path, Manifest]) -> None:
    _, manifest = country
    rates, targets = manifest.rates, manifest.targets
    # about 2,000 subjects: a few points of sampling noise around the targets
    assert abs(rates["with_valid_id"] - targets["with_valid_id"]) < 0.04
    assert abs(rates["wrong_among_with_id"] - targets["wrong_among_with_id"]) < 0.05
    assert abs(rates["identified_among_without_id"] - targets["identified_among_without_id"]) < 0.12
    assert manifest.counts["duplicates"] > 0 and manifest.counts["foreigners"] > 0


def test_doses_follow_plausible_schedules(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    records = _rows(out / "records.parquet")
    truth = {row["subject_id"]: row for row in _rows(out / "truth_subjects.parquet")}
    births = {row["person_id"]: row["birth_date"] for row in _rows(out / "register.parquet")}
    labels = {kind.spec_value for kind in DoseKind}
    doses: dict[str, list[tuple[dt.date, str, str]]] = defaultdict(list)
    assert len({row["record_id"] for row in records}) == len(records)
    for row in records:
        day = dt.date.fromisoformat(str(row["vaccination_date"]))
        assert dt.date(2021, 3, 8) <= day <= dt.date(2023, 1, 31)
        assert row["dose"] in labels
        assert str(row["subject_id"]).startswith(str(row["facility_code"]) + "-")
        doses[str(row["subject_id"])].append((day, str(row["dose"]), str(row["vaccine"])))
        birth = births.get(truth[row["subject_id"]]["person_id"])
        if birth and len(str(birth)) == 10 and row["dose"] == "1":
            group = age_group(dt.date.fromisoformat(str(birth)), day)
            assert group is not None
            if group == AgeGroup.CHILD:
                assert day >= dt.date(2022, 4, 14)
    for subject_id, given in doses.items():
        if truth[subject_id]["is_duplicate_of"]:
            continue
        given.sort()
        by_label = {label: (day, vaccine) for day, label, vaccine in given}
        if "1" in by_label and "2" in by_label and by_label["1"][1] == "AstraZeneca":
            assert 56 <= (by_label["2"][0] - by_label["1"][0]).days <= 84
        if "Nhắc lại 1" in by_label and "2" in by_label:
            assert (by_label["Nhắc lại 1"][0] - by_label["2"][0]).days >= 90


def test_aggregates_add_up_with_the_gaps_and_the_records(country: tuple[Path, Manifest]) -> None:
    out, _ = country
    aggregates = _rows(out / "aggregates.parquet")
    gaps = _rows(out / "gaps.parquet")
    assert {str(r["age_group"]) for r in aggregates} <= {group.value for group in AgeGroup}
    assert {str(r["dose_kind"]) for r in aggregates} <= {kind.value for kind in DoseKind}
    assert {str(r["reason_group"]) for r in gaps} <= {group.value for group in ReasonGroup}
    missing: dict[tuple[object, ...], int] = defaultdict(int)
    for row in gaps:
        missing[(row["province_code"], row["age_group"], row["dose_kind"])] += int(str(row["doses_not_entered"]))
    for row in aggregates:
        key = (row["province_code"], row["age_group"], row["dose_kind"])
        assert int(str(row["reported"])) - int(str(row["entered"])) == missing.get(key, 0)
    assert sum(int(str(r["entered"])) for r in aggregates) == pq.read_metadata(out / "records.parquet").num_rows
    assert sum(missing.values()) > 0


def test_xlsx_is_messy_like_a_facility_export(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path
    manifest = generate(out, people=800, seed=5, progress=False)
    assert "records.xlsx" in manifest.files
    records = _rows(out / "records.parquet")
    sheet = load_workbook(out / "records.xlsx").worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Mã đối tượng", "Mã mũi tiêm", "Họ và tên"] and len(header) == len(RECORD_COLUMNS)
    fonts_seen, numeric_ids, excel_dates = set(), 0, 0
    for cells, record in zip(sheet.iter_rows(min_row=2), records, strict=True):
        name_cell = cells[2]
        font = name_cell.font.name if name_cell.font else None
        if font in (".VnTime", "VNI-Times"):
            fonts_seen.add(font)
            decoded = decode_legacy(str(name_cell.value), font).text
            assert canonical_name(decoded) == canonical_name(str(record["full_name"]))
        else:
            assert name_cell.value == record["full_name"]
        if isinstance(cells[5].value, int):
            numeric_ids += 1
            assert check_id_number(cells[5].value).value == check_id_number(record["id_number"]).value
        if isinstance(cells[3].value, dt.datetime):
            excel_dates += 1
    assert fonts_seen == {".VnTime", "VNI-Times"}
    assert numeric_ids > 0 and excel_dates > 0


def test_same_seed_same_country_other_seed_other_country(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", people=600, seed=11, progress=False, xlsx_max_rows=0)
    second = generate(tmp_path / "b", people=600, seed=11, progress=False, xlsx_max_rows=0)
    generate(tmp_path / "c", people=600, seed=12, progress=False, xlsx_max_rows=0)
    assert "records.xlsx" not in first.files and not (tmp_path / "a" / "records.xlsx").exists()
    for name in ("register.parquet", "records.parquet", "truth_subjects.parquet", "aggregates.parquet"):
        assert pq.read_table(tmp_path / "a" / name).equals(pq.read_table(tmp_path / "b" / name))
    assert not pq.read_table(tmp_path / "a" / "register.parquet").equals(
        pq.read_table(tmp_path / "c" / "register.parquet")
    )
    assert first.counts == second.counts


def test_province_restriction(tmp_path: Path) -> None:
    manifest = generate(tmp_path, people=400, seed=1, progress=False, province_codes=["06"], xlsx_max_rows=0)
    provinces = {row["province_code"] for row in _rows(tmp_path / "records.parquet")}
    assert provinces == {"06"} and manifest.province_codes == ["06"]


@pytest.mark.parametrize(("scale", "column"), [("commune", "ward_code"), ("district", "district_code")])
def test_a_scale_below_the_nation_lives_in_one_unit(tmp_path: Path, scale: str, column: str) -> None:
    manifest = generate(tmp_path, people=300, seed=4, progress=False, xlsx_max_rows=0, scale=scale)
    register = _rows(tmp_path / "register.parquet")
    records = _rows(tmp_path / "records.parquet")
    assert len({row[column] for row in register}) == 1 == len({row[column] for row in records})
    assert register[0][column] == (manifest.ward_code if scale == "commune" else manifest.district_code)
    again = generate(tmp_path / "again", people=10, seed=4, progress=False, xlsx_max_rows=0, scale=scale)
    assert (again.district_code, again.ward_code) == (manifest.district_code, manifest.ward_code)


def test_tiny_countries_even_without_any_subject(tmp_path: Path) -> None:
    subjects = []
    for seed in range(8):
        manifest = generate(tmp_path / str(seed), people=1, seed=seed, progress=False, xlsx_max_rows=0)
        subjects.append(manifest.counts["subjects"])
        assert pq.read_metadata(tmp_path / str(seed) / "truth_subjects.parquet").num_rows == subjects[-1]
    assert 0 in subjects and 1 in subjects


def test_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tiemchung.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["synth", "--people", "300", "--seed", "2", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Đã sinh 300 người" in result.output
    assert (tmp_path / "truth_subjects.parquet").exists()
    assert runner.invoke(app, ["synth", "--out", str(tmp_path)]).exit_code == 2
    assert runner.invoke(app, ["synth", "--scale", "planet", "--out", str(tmp_path)]).exit_code == 2
    assert runner.invoke(app, ["synth", "--people", "5", "--provinces", "99", "--out", str(tmp_path)]).exit_code == 2


def test_people_registered_two_or_three_times_each_typed_anew(country: tuple[Path, Manifest]) -> None:
    """Later registrations point to the first; they are the same person, with their own doses (none twice), typed
    with their own errors, and some in another province (a migrant worker's workplace campaign)."""
    out, manifest = country
    truth = {row["subject_id"]: row for row in _rows(out / "truth_subjects.parquet")}
    records = _rows(out / "records.parquet")
    by_subject: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in records:
        by_subject[str(row["subject_id"])].append(row)
    later: dict[str, list[str]] = defaultdict(list)
    for subject_id, row in truth.items():
        if row["is_duplicate_of"]:
            later[str(row["is_duplicate_of"])].append(subject_id)
    assert manifest.counts["duplicates"] == sum(len(copies) for copies in later.values())
    vaccinated = sum(1 for row in truth.values() if not row["is_duplicate_of"])
    assert 0.02 < len(later) / vaccinated < 0.06  # DUPLICATE_RATE of those with two doses or more
    assert {len(copies) for copies in later.values()} == {1, 2}  # registered twice or three times
    typed_differently = other_province = 0
    for first, copies in later.items():
        assert not truth[first]["is_duplicate_of"]
        for copy in copies:
            assert truth[copy]["person_id"] == truth[first]["person_id"]
            first_rows, copy_rows = by_subject[first], by_subject[copy]
            assert max(str(row["vaccination_date"]) for row in first_rows) < min(
                str(row["vaccination_date"]) for row in copy_rows
            )  # the later doses, entered anew; none entered twice
            assert first_rows[0]["facility_code"] != copy_rows[0]["facility_code"]
            fields = ("full_name", "birth_date", "id_number")
            typed_differently += any(first_rows[0][name] != copy_rows[0][name] for name in fields)
            other_province += first_rows[0]["province_code"] != copy_rows[0]["province_code"]
    copies_count = manifest.counts["duplicates"]
    assert typed_differently > copies_count / 3
    assert 0.1 < other_province / copies_count < 0.5
