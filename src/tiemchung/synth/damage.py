"""What a facility typed for each subject: the person's identity with errors and harmless variations.

Decisions are drawn with numpy for the whole chunk; string edits run only on the affected subjects. For each
subject we keep what the typed values *mean* (NFC name, ISO birth date, sex, and the raw ID string) so that
the expected verification result can be computed by the spec's rules against the register (`truth`).

Calibration (seed 000, national totals): 73.4 M of 82.3 M subjects typed a valid-format ID (89.2 %), 18.9 M
of those were wrong (25.8 %); 8.86 M had no or an invalid ID (10.8 %), of which 7.04 M (79.4 %) were later
identified. The error mix inside these totals is not published: the weights below are our estimate.
"""

from dataclasses import dataclass

import numpy as np

from tiemchung.identity import encode_tcvn3, encode_vni
from tiemchung.synth import text
from tiemchung.synth.geography import Geography
from tiemchung.synth.population import People

NO_ID_RATE = 0.100
INVALID_SHARE_OF_NO_ID = 0.25
ERROR_RATE_WITH_ID = 0.254  # + people absent from the register (1.5 %) = the seed's 25.8 %
ERROR_RATE_WITHOUT_ID = 0.205  # identity errors that make a no-ID subject unidentifiable
SECOND_ERROR_RATE = 0.15
# Primary error kinds of an ID-bearing subject, with their share (our estimate of the seed's "sai số định
# danh, sai ngày sinh, sai họ tên và thông tin khác").
ERROR_MIX: dict[str, float] = {
    "ID_TYPO": 0.20,
    "ID_TRANSPOSITION": 0.08,
    "ID_RELATIVE": 0.07,
    "ID_CMND_UNRECORDED": 0.05,
    "BIRTH_WRONG": 0.07,  # 2-3 years or up to 200 days off
    "BIRTH_YEAR_OFF": 0.05,  # the year one off, day and month right (a slip on the last digit, or age counted)
    "BIRTH_PLACEHOLDER": 0.06,
    "BIRTH_DAY_MONTH_SWAP": 0.07,
    "SEX_WRONG": 0.05,
    "NAME_NO_DIACRITICS": 0.12,
    "NAME_TYPO": 0.12,
    "NAME_MIDDLE_DROPPED": 0.05,
    "NAME_MIDDLE_ADDED": 0.03,  # a common middle name (Văn, Thị...) added by the typist
    "NAME_ORDER_SWAPPED": 0.03,
}
IDENTITY_ERROR_KINDS = tuple(kind for kind in ERROR_MIX if not kind.startswith("ID_"))
# Harmless variations: the spec's agreement rules must see through them.
HARMLESS_RATES: dict[str, float] = {
    "ID_CMND": 0.06,  # the old card typed instead of the CCCD (checked against old_id)
    "ID_LOST_ZEROS": 0.05,
    "ID_SEPARATORS": 0.03,
    "NAME_NFD": 0.04,
    "NAME_OLD_TONE": 0.30,  # of names with an oa/oe/uy open syllable
    "NAME_CASE": 0.05,
    "NAME_SPACES": 0.05,
    "NAME_TCVN3": 0.03,
    "NAME_VNI": 0.02,
    "BIRTH_YEAR_ONLY": 0.01,
}
HARMLESS_KINDS = frozenset(HARMLESS_RATES) | {"ROWS_DISAGREE"}
# Residence: the subject's record carries where the person lives now (and was vaccinated: migrant workers,
# students), the register the ward of registration. Our estimate, not a published figure: the 2019 census counted
# 6.4 M people (7.3 % of those aged 5+) who had moved in the five years before it, more than half of them between
# provinces, and it does not count moves inside a district nor people still registered where they no longer
# live; 15 % of subjects with a residence other than the register's is the middle of the 10-20 % the
# verification must expect. Shares by distance: another ward of the district, another district of the
# province, another province.
MOVED_RATE = 0.15
MOVED_DISTANCES: dict[str, tuple[str, float]] = {
    "MOVED_WARD": ("ward", 0.30),
    "MOVED_DISTRICT": ("district", 0.25),
    "MOVED_PROVINCE": ("province", 0.45),
}
# Kinds that are not drawn from the two tables above but follow from them or from the person.
DERIVED_KINDS: dict[str, str] = {
    "NOT_IN_REGISTER": "the person is absent from the register",
    "ID_MISSING": "no identity number typed",
    "ID_INVALID": "an identity number no spec rule can repair",
    "ID_OTHER_PERSON": "ID_RELATIVE for someone living alone: a stranger's number",
    "ID_TWIN": "ID_RELATIVE for a twin: the twin's number (same family, birth date and ward), typed first",
    "ROWS_DISAGREE": "a later dose row carries the name typed differently (case, spaces)",
}
ERROR_KINDS = frozenset(ERROR_MIX) | HARMLESS_KINDS | frozenset(DERIVED_KINDS) | frozenset(MOVED_DISTANCES)
FONTS = {"NAME_TCVN3": ".VnTime", "NAME_VNI": "VNI-Times"}
BIRTH_TEXT_DMY, BIRTH_TEXT_ISO, BIRTH_EXCEL, BIRTH_TEXT_YEAR = 0, 1, 2, 3
_BIRTH_STYLE_SHARES = np.array([0.50, 0.15, 0.35])  # dd/mm/yyyy text, yyyy-mm-dd text, an Excel date


@dataclass
class Typed:
    """The typed identity of each subject, and what it means."""

    full_name: np.ndarray  # object: Unicode as typed (the legacy cells decoded, for Parquet)
    name_font: np.ndarray  # object: "" or the legacy font of the xlsx cell
    name_meaning: np.ndarray  # object: the NFC name the typist meant to write
    birth_shown: np.ndarray  # object: the date the cell shows, "YYYY-MM-DD" or "YYYY"
    birth_meaning: np.ndarray  # object: "YYYY-MM-DD", "YYYY", or "" (unknown), by the placeholder rule
    birth_style: np.ndarray  # int: BIRTH_* cell style
    sex_meaning: np.ndarray  # object: "M" / "F"
    sex_typed: np.ndarray  # object: "Nam"/"Nữ"/"M"/"F"
    id_typed: np.ndarray  # object: "" when none
    id_numeric: np.ndarray  # bool: the cell is a number (lost leading zeros)
    errors: np.ndarray  # object: ";"-joined kinds

    def __len__(self) -> int:
        return len(self.full_name)


def concatenate(first: Typed, second: Typed) -> Typed:
    return Typed(
        **{name: np.concatenate([getattr(first, name), getattr(second, name)]) for name in Typed.__dataclass_fields__}
    )


class _Log:
    """Error kinds per subject: (rows, kind) batches, joined per row at the end in the order they were added."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: list[np.ndarray] = []
        self.kinds: list[str] = []

    def add(self, rows: np.ndarray, kind: str) -> None:
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.kinds.append(kind)

    def joined(self) -> np.ndarray:
        result = np.full(self.size, "", dtype=object)
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, dtype=np.int64)
        if not len(rows):
            return result
        kind_index = np.repeat(np.arange(len(self.kinds)), [len(r) for r in self.rows])
        order = np.argsort(rows, kind="stable")
        rows, kind_index = rows[order], kind_index[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], len(rows)], strict=True):
            result[rows[start]] = ";".join(self.kinds[k] for k in kind_index[start:end])
        return result


def move_residences(rng: np.random.Generator, ward: np.ndarray, geography: Geography) -> tuple[np.ndarray, np.ndarray]:
    """Where each subject lives now: the register's ward for most, another one for MOVED_RATE of them at the
    distances of MOVED_DISTANCES (fewer where the area has no such ward). Returns the wards and the move kinds
    ("" when not moved)."""
    kinds = list(MOVED_DISTANCES)
    shares = np.array([share for _, share in MOVED_DISTANCES.values()])
    moving = rng.random(len(ward)) < MOVED_RATE
    kind = rng.choice(len(kinds), size=len(ward), p=shares / shares.sum())
    moved_ward = ward.copy()
    codes = np.full(len(ward), "", dtype=object)
    for index, (name, (distance, _)) in enumerate(MOVED_DISTANCES.items()):
        rows = np.flatnonzero(moving & (kind == index))
        target = geography.other_wards(rng, ward[rows], distance)
        found = target >= 0
        moved_ward[rows[found]] = target[found]
        codes[rows[found]] = name
    return moved_ward, codes


def type_nationals(
    rng: np.random.Generator, people: People, person: np.ndarray, moves: np.ndarray | None = None
) -> Typed:
    """The typed identities of subjects `person` (indices into the chunk's people; repeats allowed); `moves`
    holds each subject's MOVED_* kind or "" (see `move_residences`), logged among its errors."""
    size = len(person)
    log = _Log(size)
    log.add(np.flatnonzero(~people.in_register[person]), "NOT_IN_REGISTER")
    if moves is not None:
        for kind in MOVED_DISTANCES:
            log.add(np.flatnonzero(moves == kind), kind)
    no_id = rng.random(size) < NO_ID_RATE
    primary = _draw_errors(rng, no_id, log)
    id_typed, id_numeric = _type_ids(rng, people, person, no_id, primary, log)
    name_meaning, full_name, font = _type_names(rng, people, person, primary, log)
    birth_shown, birth_style = _type_births(rng, people, person, primary, log)
    sex_meaning = np.where(people.is_male[person], "M", "F").astype(object)
    wrong_sex = primary["SEX_WRONG"]
    sex_meaning[wrong_sex] = np.where(people.is_male[person][wrong_sex], "F", "M")
    as_word = rng.random(size) < 0.7
    sex_typed = np.where(as_word, np.where(sex_meaning == "M", "Nam", "Nữ"), sex_meaning).astype(object)
    return Typed(
        full_name=full_name,
        name_font=font,
        name_meaning=name_meaning,
        birth_shown=birth_shown,
        birth_meaning=birth_meanings(birth_shown),
        birth_style=birth_style,
        sex_meaning=sex_meaning,
        sex_typed=sex_typed,
        id_typed=id_typed,
        id_numeric=id_numeric,
        errors=log.joined(),
    )


def _draw_errors(rng: np.random.Generator, no_id: np.ndarray, log: _Log) -> dict[str, np.ndarray]:
    """A primary error kind for some subjects, and a second identity error for some of those."""
    size = len(no_id)
    kinds = list(ERROR_MIX)
    shares = np.array(list(ERROR_MIX.values()))
    identity_shares = np.array([ERROR_MIX[k] for k in IDENTITY_ERROR_KINDS])
    with_id_error = ~no_id & (rng.random(size) < ERROR_RATE_WITH_ID)
    without_id_error = no_id & (rng.random(size) < ERROR_RATE_WITHOUT_ID)
    chosen = np.where(
        with_id_error,
        rng.choice(len(kinds), size=size, p=shares / shares.sum()),
        np.array([kinds.index(k) for k in IDENTITY_ERROR_KINDS])[
            rng.choice(len(IDENTITY_ERROR_KINDS), size=size, p=identity_shares / identity_shares.sum())
        ],
    )
    erroneous = with_id_error | without_id_error
    second = erroneous & (rng.random(size) < SECOND_ERROR_RATE)
    second_kind = np.array([kinds.index(k) for k in IDENTITY_ERROR_KINDS])[
        rng.choice(len(IDENTITY_ERROR_KINDS), size=size, p=identity_shares / identity_shares.sum())
    ]
    selected: dict[str, np.ndarray] = {}
    for index, kind in enumerate(kinds):
        selected[kind] = (erroneous & (chosen == index)) | (second & (second_kind == index) & (chosen != index))
    log.add(np.flatnonzero(selected["SEX_WRONG"]), "SEX_WRONG")
    return selected


def _type_ids(
    rng: np.random.Generator,
    people: People,
    person: np.ndarray,
    no_id: np.ndarray,
    primary: dict[str, np.ndarray],
    log: _Log,
) -> tuple[np.ndarray, np.ndarray]:
    size = len(person)
    typed = people.person_id[person].astype(object)
    held = people.held_cmnd[person]
    recorded = people.old_id[person] != ""
    uses_cmnd = ~no_id & recorded & (rng.random(size) < HARMLESS_RATES["ID_CMND"])
    typed[uses_cmnd] = held[uses_cmnd]
    log.add(np.flatnonzero(uses_cmnd), "ID_CMND")
    unrecorded = primary["ID_CMND_UNRECORDED"] & (held != "") & ~recorded
    typed[unrecorded] = held[unrecorded]
    log.add(np.flatnonzero(unrecorded), "ID_CMND_UNRECORDED")
    typo = primary["ID_TYPO"] | (primary["ID_CMND_UNRECORDED"] & ~unrecorded)
    for row in np.flatnonzero(typo):
        typed[row] = text.digit_typo(typed[row], rng)
    log.add(np.flatnonzero(typo), "ID_TYPO")
    for row in np.flatnonzero(primary["ID_TRANSPOSITION"]):
        typed[row] = text.transpose_digits(typed[row], rng)
    log.add(np.flatnonzero(primary["ID_TRANSPOSITION"]), "ID_TRANSPOSITION")
    _relatives_ids(rng, people, person, primary["ID_RELATIVE"], typed, log)
    _format_ids(rng, typed, no_id, log)
    numeric = np.zeros(size, dtype=bool)
    lost = ~no_id & (rng.random(size) < HARMLESS_RATES["ID_LOST_ZEROS"])
    lost &= np.array([value.startswith("0") for value in typed], dtype=bool)
    typed[lost] = [value.lstrip("0") for value in typed[lost]]
    numeric[lost] = True
    log.add(np.flatnonzero(lost), "ID_LOST_ZEROS")
    spaced = ~no_id & ~lost & (rng.random(size) < HARMLESS_RATES["ID_SEPARATORS"])
    for row in np.flatnonzero(spaced):
        typed[row] = text.spaced_number(typed[row], rng)
    log.add(np.flatnonzero(spaced), "ID_SEPARATORS")
    return typed, numeric


def _relatives_ids(
    rng: np.random.Generator,
    people: People,
    person: np.ndarray,
    rows_mask: np.ndarray,
    typed: np.ndarray,
    log: _Log,
) -> None:
    """The ID of another member of the household (a parent typing their own; a twin's first, whose papers are
    the likeliest to be mixed up), else of a stranger."""
    rows = np.flatnonzero(rows_mask)
    own = person[rows]
    size = len(people)
    previous, following = np.clip(own - 1, 0, size - 1), np.clip(own + 1, 0, size - 1)

    def twin_at(other: np.ndarray) -> np.ndarray:
        same_household = people.household[other] == people.household[own]
        return (other != own) & same_household & (people.birth[other] == people.birth[own])

    neighbour = np.where(own + 1 < size, own + 1, own - 1)
    neighbour = np.where(people.household[previous] == people.household[own], own - 1, neighbour)
    neighbour = np.where(twin_at(following), following, neighbour)
    neighbour = np.where(twin_at(previous), previous, neighbour)
    same_household = (people.household[neighbour] == people.household[own]) & (neighbour != own)
    twin = same_household & twin_at(neighbour)
    stranger = rng.integers(0, size, len(rows))
    other = np.where(same_household, neighbour, stranger)
    typed[rows] = people.person_id[other]
    log.add(rows[same_household & ~twin], "ID_RELATIVE")
    log.add(rows[twin], "ID_TWIN")
    log.add(rows[~same_household], "ID_OTHER_PERSON")


def _format_ids(rng: np.random.Generator, typed: np.ndarray, no_id: np.ndarray, log: _Log) -> None:
    rows = np.flatnonzero(no_id)
    invalid = rows[rng.random(len(rows)) < INVALID_SHARE_OF_NO_ID]
    missing = np.setdiff1d(rows, invalid)
    typed[missing] = ""
    for row in invalid:
        typed[row] = text.invalid_number(rng)
    log.add(missing, "ID_MISSING")
    log.add(invalid, "ID_INVALID")


def _type_names(
    rng: np.random.Generator, people: People, person: np.ndarray, primary: dict[str, np.ndarray], log: _Log
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    meaning = people.full_name[person].copy()
    for row in np.flatnonzero(primary["NAME_NO_DIACRITICS"]):
        meaning[row] = text.strip_diacritics(meaning[row])
    # a name without any diacritics (Phan Minh Nhung) typed without them is no error
    stripped = primary["NAME_NO_DIACRITICS"] & (meaning != people.full_name[person])
    log.add(np.flatnonzero(stripped), "NAME_NO_DIACRITICS")
    middle = people.middle[person]
    dropped = primary["NAME_MIDDLE_DROPPED"] & (middle != "")
    meaning[dropped] = [
        f"{s} {g}" for s, g in zip(people.surname[person[dropped]], people.given[person[dropped]], strict=True)
    ]
    log.add(np.flatnonzero(dropped), "NAME_MIDDLE_DROPPED")
    added = primary["NAME_MIDDLE_ADDED"]
    meaning[added] = [
        " ".join(part for part in (s, _added_middle(m, male), m, g) if part)
        for s, m, g, male in zip(
            people.surname[person[added]],
            middle[added],
            people.given[person[added]],
            people.is_male[person[added]],
            strict=True,
        )
    ]
    log.add(np.flatnonzero(added), "NAME_MIDDLE_ADDED")
    swapped = primary["NAME_ORDER_SWAPPED"]
    meaning[swapped] = [
        " ".join(part for part in (g, s, m) if part)
        for g, s, m in zip(people.given[person[swapped]], people.surname[person[swapped]], middle[swapped], strict=True)
    ]
    log.add(np.flatnonzero(swapped), "NAME_ORDER_SWAPPED")
    typo = primary["NAME_TYPO"] | (primary["NAME_MIDDLE_DROPPED"] & ~dropped)
    for row in np.flatnonzero(typo):
        meaning[row] = text.letter_typo(meaning[row], rng)
    log.add(np.flatnonzero(typo), "NAME_TYPO")
    typed, font = _harmless_name_variants(rng, meaning, ~primary["NAME_NO_DIACRITICS"], log)
    return meaning, typed, font


def _added_middle(middle: str, is_male: bool) -> str:
    """The middle name a typist adds by habit: Văn / Thị, or another common one when the person already has it."""
    usual, other = ("Văn", "Đức") if is_male else ("Thị", "Ngọc")
    return other if middle.startswith(usual) else usual


def _harmless_name_variants(
    rng: np.random.Generator, meaning: np.ndarray, accented: np.ndarray, log: _Log
) -> tuple[np.ndarray, np.ndarray]:
    size = len(meaning)
    typed = meaning.copy()
    font = np.full(size, "", dtype=object)
    draw = rng.random(size)
    tcvn3 = accented & (draw < HARMLESS_RATES["NAME_TCVN3"])
    vni = accented & ~tcvn3 & (draw < HARMLESS_RATES["NAME_TCVN3"] + HARMLESS_RATES["NAME_VNI"])
    legacy = tcvn3 | vni
    tone_candidates = np.flatnonzero(accented & (rng.random(size) < HARMLESS_RATES["NAME_OLD_TONE"]))
    tone = [row for row in tone_candidates if text.has_movable_tone(typed[row])]
    for row in tone:
        typed[row] = text.other_tone_placement(typed[row])
    log.add(np.asarray(tone, dtype=np.int64), "NAME_OLD_TONE")
    case = ~legacy & (rng.random(size) < HARMLESS_RATES["NAME_CASE"])
    for row in np.flatnonzero(case):
        typed[row] = text.change_case(typed[row], rng)
    log.add(np.flatnonzero(case), "NAME_CASE")
    spaces = rng.random(size) < HARMLESS_RATES["NAME_SPACES"]
    for row in np.flatnonzero(spaces):
        typed[row] = text.extra_spaces(typed[row], rng)
    log.add(np.flatnonzero(spaces), "NAME_SPACES")
    decomposed = accented & ~legacy & (rng.random(size) < HARMLESS_RATES["NAME_NFD"])
    for row in np.flatnonzero(decomposed):
        typed[row] = text.nfd(typed[row])
    log.add(np.flatnonzero(decomposed), "NAME_NFD")
    for kind, rows in (("NAME_TCVN3", tcvn3), ("NAME_VNI", vni)):
        font[rows] = FONTS[kind]
        log.add(np.flatnonzero(rows), kind)
    return typed, font


def legacy_cell_text(typed_name: str, font: str) -> str:
    """The 8-bit text a legacy-font cell holds for a Unicode name."""

    return encode_tcvn3(typed_name) if font == FONTS["NAME_TCVN3"] else encode_vni(typed_name)


def birth_meanings(shown: np.ndarray) -> np.ndarray:
    """What a typed birth date stands for: 01/01/1900 is "unknown", 01/01/YYYY "only the year is known"
    (identity.md's placeholders, as `tiemchung.identity.parse_date` reads them)."""
    return np.array(["" if v == "1900-01-01" else v[:4] if v.endswith("-01-01") else v for v in shown], dtype=object)


def _type_births(
    rng: np.random.Generator, people: People, person: np.ndarray, primary: dict[str, np.ndarray], log: _Log
) -> tuple[np.ndarray, np.ndarray]:
    """The date each birth-date cell shows, and the cell style."""
    size = len(person)
    birth = people.birth[person]
    years = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    shown = np.datetime_as_string(birth, unit="D").astype(object)
    style = rng.choice(3, size=size, p=_BIRTH_STYLE_SHARES)
    # only the year known (by the register, or by the typist): the cell shows the year or 01/01/YYYY
    year_known = people.year_only[person] | (rng.random(size) < HARMLESS_RATES["BIRTH_YEAR_ONLY"])
    log.add(np.flatnonzero(year_known & ~people.year_only[person]), "BIRTH_YEAR_ONLY")
    as_year = year_known & (rng.random(size) < 0.4)
    shown[year_known] = [f"{y}-01-01" for y in years[year_known]]
    shown[as_year] = years[as_year].astype(str)
    style[as_year] = BIRTH_TEXT_YEAR
    _birth_errors(rng, birth, shown, primary, log)
    style[(shown == "1900-01-01") & (style == BIRTH_TEXT_YEAR)] = BIRTH_TEXT_DMY
    return shown, style


def _birth_errors(
    rng: np.random.Generator, birth: np.ndarray, shown: np.ndarray, primary: dict[str, np.ndarray], log: _Log
) -> None:
    years = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    months = birth.astype("datetime64[M]")
    day_number = (birth - months.astype("datetime64[D]")).astype(np.int64) + 1
    month_number = (months - birth.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    swappable = (day_number <= 12) & (day_number != month_number)
    swap = primary["BIRTH_DAY_MONTH_SWAP"] & swappable
    shown[swap] = [
        f"{y}-{d:02d}-{m:02d}" for y, d, m in zip(years[swap], day_number[swap], month_number[swap], strict=True)
    ]
    log.add(np.flatnonzero(swap), "BIRTH_DAY_MONTH_SWAP")
    placeholder = primary["BIRTH_PLACEHOLDER"]
    shown[placeholder] = "1900-01-01"  # "nothing is known"
    log.add(np.flatnonzero(placeholder), "BIRTH_PLACEHOLDER")
    year_off = primary["BIRTH_YEAR_OFF"] & ~placeholder
    shown[year_off] = [
        _iso_date(y, m, d)
        for y, m, d in zip(
            years[year_off] + rng.choice([-1, 1], int(year_off.sum())),
            month_number[year_off],
            day_number[year_off],
            strict=True,
        )
    ]
    log.add(np.flatnonzero(year_off), "BIRTH_YEAR_OFF")
    wrong = (primary["BIRTH_WRONG"] | (primary["BIRTH_DAY_MONTH_SWAP"] & ~swappable)) & ~year_off
    size = len(birth)
    shift_days = np.where(
        rng.random(size) < 0.5,
        rng.choice([-1, 1], size) * rng.integers(2, 4, size) * 365,
        rng.choice([-1, 1], size) * rng.integers(1, 200, size),
    )
    shifted = birth + shift_days.astype("timedelta64[D]")
    shown[wrong] = np.datetime_as_string(shifted[wrong], unit="D")
    log.add(np.flatnonzero(wrong), "BIRTH_WRONG")


def _iso_date(year: int, month: int, day: int) -> str:
    """YYYY-MM-DD, with 29 February of a year that has none typed as the 28th."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return f"{year}-{month:02d}-{28 if (month, day) == (2, 29) and not leap else day:02d}"
