"""Read the figures of the two seed documents (hand-made reports, as text) so the platform can check them.

Seed 000 is the verification report of 25/4/2022 with its per-province table; seed 001 is the ministry's
letter of 10/3/2023 with appendix 1 (63 province rows, columns a–q) and the blank appendix 2. The parsing
is tolerant: a line that does not look like a table row is skipped, never an error. The platform ships the
figures these parsers read (`seedfigures`, `seed_figures.json`); the parsers serve an operator who has the text.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

_TAG = re.compile(r"<[^>]+>")
_NUMBER = r"\d{1,3}(?:\.\d{3})+|\d+"


def vietnamese_int(text: str) -> int | None:
    """`6.239.208` (dots group thousands in Vietnamese) as 6239208; None when the text is not a number."""
    cleaned = _TAG.sub("", text).strip().replace("*", "")
    if re.fullmatch(_NUMBER, cleaned):
        return int(cleaned.replace(".", ""))
    return None


@dataclass(frozen=True)
class SeedAppendix1Row:
    tt: int
    province_name: str
    cells: tuple[int, ...]  # columns c–m
    stated_total: int | None  # column n as typed
    bold_total: bool  # n typed in bold (the second page of the seed)


@dataclass(frozen=True)
class SeedLetterFigures:
    """The national figures the letter of seed 001 states in its text."""

    doses_given: int | None
    doses_entered: int | None
    doses_not_entered: int | None


@dataclass
class SeedAppendix1:
    rows: list[SeedAppendix1Row] = field(default_factory=list)
    letter: SeedLetterFigures = SeedLetterFigures(None, None, None)
    as_of: date | None = None


def parse_appendix1(text: str) -> SeedAppendix1:
    rows = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 14 or not fields[0].strip().isdigit():
            continue
        numbers = [vietnamese_int(value) for value in fields[2:14]]
        if any(number is None for number in numbers[:11]):
            continue
        cells = tuple(number or 0 for number in numbers[:11])
        rows.append(SeedAppendix1Row(int(fields[0]), fields[1].strip(), cells, numbers[11], "<b>" in fields[13]))
    as_of = re.search(r"\(Số liệu tính đến ngày (\d{1,2})/(\d{1,2})/(\d{4})\)", text)
    day = date(int(as_of.group(3)), int(as_of.group(2)), int(as_of.group(1))) if as_of else None
    return SeedAppendix1(rows=rows, letter=_letter_figures(text), as_of=day)


def _letter_figures(text: str) -> SeedLetterFigures:
    def figure(pattern: str) -> int | None:
        found = re.search(pattern, text)
        return vietnamese_int(found.group(1)) if found else None

    return SeedLetterFigures(
        doses_given=figure(r"thực hiện trên cả nước:\s*\**\s*(" + _NUMBER + r") mũi tiêm"),
        doses_entered=figure(r"\(\*Hệ thống:[^)]*\):\s*\**\s*(" + _NUMBER + r") mũi tiêm"),
        doses_not_entered=figure(r"còn \**\s*(" + _NUMBER + r") mũi tiêm chưa được nhập"),
    )


@dataclass(frozen=True)
class SeedCount:
    subjects: int
    doses: int


@dataclass(frozen=True)
class SeedProvinceRow:
    province_name: str
    no_or_invalid_id: int
    wrong_basic_information: int


@dataclass
class SeedVerificationReport:
    """The national lines of seed 000 (None where the text does not state them) and its per-province table."""

    sent: SeedCount | None = None
    with_id: SeedCount | None = None
    with_id_correct: SeedCount | None = None
    with_id_wrong: SeedCount | None = None
    without_id: SeedCount | None = None
    without_id_verified: SeedCount | None = None
    without_id_unverifiable: SeedCount | None = None
    provinces: list[SeedProvinceRow] = field(default_factory=list)


_COUNT = r"(" + _NUMBER + r") đối tượng, với (" + _NUMBER + r") mũi tiêm"
_LINES = {
    "sent": r"Tổng số đối tượng đã gửi sang[^:]*:\s*" + _COUNT,
    "with_id": r"1\. Số đối tượng có CCCD/CMTND:\s*" + _COUNT,
    "with_id_correct": r"- " + _COUNT + r" đã xác minh thông tin đúng",
    "with_id_wrong": r"- " + _COUNT + r" đã xác minh thông tin sai",
    "without_id": r"2\. Số đối tượng không có CCCD/CMTND[^:]*:\s*" + _COUNT,
    "without_id_unverifiable": r"- " + _COUNT + r" không xác minh được",
}


def parse_verification_report(text: str) -> SeedVerificationReport:
    report = SeedVerificationReport()
    for name, pattern in _LINES.items():
        found = re.search(pattern, text)
        if found:
            setattr(report, name, SeedCount(_as_int(found.group(1)), _as_int(found.group(2))))
    # "đã xác minh thông tin đúng" appears twice: with an ID (first) and without one (second, after "2.").
    second_part = text.split("2. Số đối tượng không có", 1)
    if len(second_part) == 2:
        found = re.search(r"- " + _COUNT + r" đã xác minh thông tin đúng", second_part[1])
        if found:
            report.without_id_verified = SeedCount(_as_int(found.group(1)), _as_int(found.group(2)))
    report.provinces = _province_rows(text)
    return report


def _province_rows(text: str) -> list[SeedProvinceRow]:
    # A row is a name line (a tab then "Tỉnh …" / "Thành phố …") followed by two number lines.
    lines = [line.strip() for line in text.splitlines()]
    rows = []
    for index, line in enumerate(lines[:-2]):
        if not re.match(r"^(Tỉnh|Thành phố) ", line):
            continue
        first, second = vietnamese_int(lines[index + 1]), vietnamese_int(lines[index + 2])
        if first is not None and second is not None:
            rows.append(SeedProvinceRow(line, first, second))
    return rows


def _as_int(text: str) -> int:
    return int(text.replace(".", ""))


def find_seed(folder: Path, number: str) -> Path | None:
    """The seed file `NNN_*.txt` in `folder` (or in its `seeds/` subfolder), if there is one."""
    matches = sorted(folder.glob(f"{number}_*.txt")) or sorted((folder / "seeds").glob(f"{number}_*.txt"))
    return matches[0] if matches else None
