"""Administrative units from the `vietnam-provinces` package: the 63 provinces of 2021–2023 with their districts
and wards (GSO codes, `vietnam_provinces.legacy`), the 34 provinces of the 2025 merger, and the old -> new mapping.

Names are given in the project's tone-mark convention (Hòa Bình, Thanh Hóa, Khánh Hòa: see identity.names) and
without the division word (name "Hà Nội", full_name "Thành phố Hà Nội").

Known gap of the source: `vietnam_provinces.legacy` is the last structure before the 2025 merger, so units that
were renamed or merged between 2023 and mid-2025 appear in their 2025 form. Province 46 is corrected to its
2021–2023 name (Tỉnh Thừa Thiên Huế; it became Thành phố Huế in 2025), as the seeds and the spec name it.
"""

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from tiemchung.identity.names import fold_name, standard_tone_marks


@dataclass(frozen=True)
class Province:
    code: str  # "01": 2-digit GSO code, zero-padded
    name: str  # "Hà Nội"
    full_name: str  # "Thành phố Hà Nội"


@dataclass(frozen=True)
class District:
    code: str  # "001": 3 digits
    name: str
    full_name: str
    province_code: str


@dataclass(frozen=True)
class Ward:
    code: str  # "00001": 5 digits
    name: str
    full_name: str
    district_code: str
    province_code: str


@dataclass(frozen=True)
class Province2025:
    code: str
    name: str
    full_name: str


# Names in force 2021–2023 where the package carries a later one.
_PROVINCE_NAME_2021: dict[str, str] = {"46": "Tỉnh Thừa Thiên Huế"}
_DIVISION_WORDS = re.compile(r"^(Thành phố|Tỉnh|Quận|Huyện|Thị xã|Thị trấn|Phường|Xã)\s+(?=\D)", re.IGNORECASE)


def _split_full_name(full_name: str) -> tuple[str, str]:
    full = standard_tone_marks(full_name.strip())
    return _DIVISION_WORDS.sub("", full), full


@cache
def _legacy_units() -> tuple[dict[str, Province], dict[str, District], dict[str, Ward]]:
    # Imported on first use: the 2021–2023 tables take over a second to import, and most commands never need them.
    from vietnam_provinces.legacy import District as LegacyDistrict
    from vietnam_provinces.legacy import Province as LegacyProvince
    from vietnam_provinces.legacy import Ward as LegacyWard

    province_map: dict[str, Province] = {}
    for province_unit in LegacyProvince.iter_all():
        code = f"{int(province_unit.code):02d}"
        name, full = _split_full_name(_PROVINCE_NAME_2021.get(code, province_unit.name))
        province_map[code] = Province(code, name, full)
    district_map: dict[str, District] = {}
    for district_unit in LegacyDistrict.iter_all():
        name, full = _split_full_name(district_unit.name)
        code = f"{int(district_unit.code):03d}"
        district_map[code] = District(code, name, full, f"{int(district_unit.province_code):02d}")
    ward_map: dict[str, Ward] = {}
    for ward_unit in LegacyWard.iter_all():
        name, full = _split_full_name(ward_unit.name)
        code = f"{int(ward_unit.code):05d}"
        district_code = f"{int(ward_unit.district_code):03d}"
        ward_map[code] = Ward(code, name, full, district_code, district_map[district_code].province_code)
    return (
        dict(sorted(province_map.items())),
        dict(sorted(district_map.items())),
        dict(sorted(ward_map.items())),
    )


def _code(code: object, width: int) -> str | None:
    """A code as the zero-padded digit string of `width`, from text or an int; None for anything else."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return str(code).zfill(width) if 0 <= code < 10**width else None
    text = code.strip() if isinstance(code, str) else ""
    return text.zfill(width) if text.isdigit() and text.isascii() and len(text) <= width else None


def provinces() -> tuple[Province, ...]:
    """The 63 provinces of 2021–2023, by code."""
    return tuple(_legacy_units()[0].values())


def province(code: str | int) -> Province | None:
    key = _code(code, 2)
    return _legacy_units()[0].get(key) if key else None


def districts(province_code: str) -> tuple[District, ...]:
    key = _code(province_code, 2)
    return _districts_by_province().get(key, ()) if key else ()


@cache
def _districts_by_province() -> dict[str, tuple[District, ...]]:
    grouped: dict[str, list[District]] = {}
    for unit in _legacy_units()[1].values():
        grouped.setdefault(unit.province_code, []).append(unit)
    return {code: tuple(units) for code, units in grouped.items()}


def district(code: str | int) -> District | None:
    key = _code(code, 3)
    return _legacy_units()[1].get(key) if key else None


@cache
def _wards_by_district() -> dict[str, tuple[Ward, ...]]:
    grouped: dict[str, list[Ward]] = {}
    for unit in _legacy_units()[2].values():
        grouped.setdefault(unit.district_code, []).append(unit)
    return {code: tuple(units) for code, units in grouped.items()}


def wards(district_code: str) -> tuple[Ward, ...]:
    key = _code(district_code, 3)
    return _wards_by_district().get(key, ()) if key else ()


def ward(code: str | int) -> Ward | None:
    key = _code(code, 5)
    return _legacy_units()[2].get(key) if key else None


def cccd_prefix_province(prefix: str) -> Province | None:
    """The province of a CCCD's first three digits: "001" -> Hà Nội ("0" + the GSO code)."""
    if not isinstance(prefix, str) or len(prefix) != 3 or not prefix.isdigit() or prefix[0] != "0":
        return None
    return province(prefix[1:])


# --- look-up by name -----------------------------------------------------------------------------------------

# Division words (folded) that may precede a unit's name: "Tỉnh", "Thành phố", "TP.", "Quận", "Thị xã", "P."...
_PREFIX_TOKENS = (
    "thanh pho", "tinh", "tp", "t p", "quan", "huyen", "thi xa", "tx", "thi tran", "tt", "phuong", "p", "xa",
)  # fmt: skip
# Short forms seen in the seeds and in offices' spreadsheets (folded, without spaces).
_PROVINCE_ALIASES: dict[str, str] = {
    "hcm": "79", "tphcm": "79", "saigon": "79", "hn": "01", "tthue": "46", "hue": "46", "thuathien": "46",
    "brvt": "77", "vungtau": "77", "bacan": "06", "baccan": "06", "daclac": "66", "dacnong": "67",
}  # fmt: skip


def _name_key(text: str) -> str:
    """Folded, division words removed, no spaces or punctuation: "TP. Hồ Chí Minh" -> "hochiminh"."""
    words = re.sub(r"[^a-z0-9]+", " ", fold_name(text)).strip()
    for prefix in _PREFIX_TOKENS:
        if words.startswith(prefix + " "):
            words = words[len(prefix) + 1 :]
            break
    return words.replace(" ", "")


@cache
def _province_keys() -> dict[str, str]:
    keys = {_name_key(unit.name): unit.code for unit in provinces()}
    return keys | _PROVINCE_ALIASES


def find_province(name: str) -> Province | None:
    """By name, with or without diacritics and division word, or a usual short form ("Tp. HCM", "TT- Huế",
    "BR-VT"); None when no province matches."""
    if not isinstance(name, str):
        return None
    code = _province_keys().get(_name_key(name))
    return province(code) if code else None


def find_district(province_code: str, name: str) -> District | None:
    """A district of the province by name (with or without diacritics or division word)."""
    key = _name_key(name) if isinstance(name, str) else ""
    return next((unit for unit in districts(province_code) if _name_key(unit.full_name) == key), None) if key else None


def find_ward(district_code: str, name: str) -> Ward | None:
    """A ward of the district by name (with or without diacritics or division word)."""
    key = _name_key(name) if isinstance(name, str) else ""
    return next((unit for unit in wards(district_code) if _name_key(unit.full_name) == key), None) if key else None


# --- 2025 ----------------------------------------------------------------------------------------------------


@cache
def _provinces_2025() -> dict[str, Province2025]:
    # Imported on first use (0.2 s): only the 2025 look-ups need it.
    from vietnam_provinces import Province as NewProvince

    units = {}
    for unit in NewProvince.iter_all():
        code = f"{int(unit.code):02d}"
        name, full = _split_full_name(unit.name)
        units[code] = Province2025(code, name, full)
    return dict(sorted(units.items()))


def provinces_2025() -> tuple[Province2025, ...]:
    """The 34 provinces after the 2025 merger (Resolution 202/2025/QH15), by code."""
    return tuple(_provinces_2025().values())


def province_2025_for(old_code: str) -> Province2025 | None:
    """The 2025 province an old province merged into. Where a few wards went elsewhere (82 Tiền Giang: one ward to
    Tây Ninh), the province that received most of its wards."""
    key = _code(old_code, 2)
    return _province_2025_for_code(key) if key else None


@cache
def _province_2025_for_code(key: str) -> Province2025 | None:
    # Imported on first use, as the 2025 tables above.
    from vietnam_provinces._province_conversion_2025 import OLD_TO_NEW

    entry = OLD_TO_NEW.get(int(key))
    if entry is None:
        return None
    targets = [f"{ref.code:02d}" for ref in entry.new_provinces]
    if len(targets) > 1:
        targets = [_majority_new_province(int(key))]
    return _provinces_2025().get(targets[0])


def _majority_new_province(old_code: int) -> str:
    # Imported on first use: the ward conversion table is large, and only two provinces need it.
    from vietnam_provinces._ward_conversion_2025 import OLD_TO_NEW as WARDS_OLD_TO_NEW

    counts: Counter[int] = Counter()
    for entry in WARDS_OLD_TO_NEW.values():
        if entry.old_ward.province_code == old_code:
            counts.update(ref.province_code for ref in entry.new_wards)
    return f"{counts.most_common(1)[0][0]:02d}"
