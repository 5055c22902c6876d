"""Countries: ISO 3166 codes with their Vietnamese and English names, and the reading of a typed nationality.

The names are CLDR's (through Babel: Vietnamese and English) and ISO 3166's (through pycountry: names, official and
common names, alpha-3 codes); a code is valid only when ISO 3166 has it ("ZZ" is not a country). CLDR does not carry
the colloquial or transliterated forms facilities type ("Mỹ", "Ca-na-đa"), so those few are listed here, and any
spelling is compared folded (no case, no diacritics, no spaces or hyphens).
"""

import unicodedata
from dataclasses import dataclass
from functools import cache

import pycountry
from babel import Locale
from rapidfuzz import process

VIET_NAM = "VN"
# Colloquial and transliterated names that CLDR does not list, as facilities type them.
COLLOQUIAL_NAMES = {
    "US": ("Mỹ", "Hoa Kì", "Huê Kỳ"),
    "GB": ("Anh", "Anh Quốc", "UK"),
    "IT": ("Ý", "I-ta-li-a"),
    "KR": ("Hàn", "Nam Hàn", "Đại Hàn", "Korea"),
    "JP": ("Nhật",),
    "KP": ("Bắc Hàn", "Bắc Triều Tiên"),
    "KH": ("Căm-pu-chia", "Cam Bốt"),
    "CA": ("Ca-na-đa",),
    "AU": ("Úc", "Ô-xtrây-li-a"),
    "DE": ("Tây Đức",),
    "FR": ("Pháp Quốc",),
    "RU": ("Liên bang Nga",),
    "CN": ("Tàu", "Trung Hoa"),
    "TW": ("Đài Bắc",),
    "LA": ("Ai Lao",),
    "NZ": ("Tân Tây Lan",),
    "PH": ("Phi", "Phi-líp-pin"),
}
SUGGESTIONS = 3


@dataclass(frozen=True)
class Nationality:
    """What a typed nationality reads as: an ISO alpha-2 code, or None with the closest names to suggest."""

    code: str | None
    suggestions: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """The Vietnamese message for an unknown name (empty when it was understood)."""
        if self.code is not None:
            return ""
        hint = f" Có phải: {', '.join(self.suggestions)}?" if self.suggestions else ""
        return f"Quốc tịch không nhận ra được (ghi tên nước, ví dụ Việt Nam, Hàn Quốc, hoặc mã ISO như VN, KR).{hint}"


def fold(text: str) -> str:
    """Lower case, no diacritics (đ as d), letters and digits only: "Ca-na-đa" and "canada" fold alike."""
    decomposed = unicodedata.normalize("NFD", text.strip().lower().replace("đ", "d"))
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def country_codes() -> tuple[str, ...]:
    """Every ISO 3166-1 alpha-2 code."""
    return tuple(sorted(country.alpha_2 for country in pycountry.countries))


@cache
def _vietnamese_names() -> dict[str, str]:
    territories = Locale("vi").territories
    return {code: territories.get(code, _iso_name(code)) for code in country_codes()}


@cache
def _english_names() -> dict[str, str]:
    territories = Locale("en").territories
    return {code: territories.get(code, _iso_name(code)) for code in country_codes()}


def _iso_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or country.name) if country else code


def name_vi(code: str) -> str:
    """The Vietnamese name of a country ("KR" -> "Hàn Quốc"); the code itself when ISO does not know it."""
    return _vietnamese_names().get(code.upper(), code)


def name_en(code: str) -> str:
    """The English name of a country ("KR" -> "South Korea")."""
    return _english_names().get(code.upper(), code)


def choices() -> list[tuple[str, str]]:
    """(code, Vietnamese name) of every country, Viet Nam first, then in Vietnamese alphabetical order of the name."""
    names = _vietnamese_names()
    others = sorted((code for code in names if code != VIET_NAM), key=lambda code: fold(names[code]))
    return [(VIET_NAM, names[VIET_NAM])] + [(code, names[code]) for code in others]


@cache
def _code_by_folded_name() -> dict[str, str]:
    found: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        spellings = [country.alpha_3, country.name, getattr(country, "official_name", ""), _iso_name(code)]
        spellings += [name_vi(code), name_en(code), *COLLOQUIAL_NAMES.get(code, ())]
        for spelling in spellings:
            if spelling:
                found.setdefault(fold(spelling), code)
    return found


def parse_nationality(text: str | None) -> Nationality:
    """A typed nationality: empty is Viet Nam; an ISO code or a name in Vietnamese or English; else suggestions."""
    typed = (text or "").strip()
    folded = fold(typed)
    if not folded:
        return Nationality(VIET_NAM)
    if len(typed) == 2 and typed.isascii() and typed.isalpha():  # a code; "Mỹ" also folds to two letters
        code = typed.upper()
        if pycountry.countries.get(alpha_2=code):
            return Nationality(code)
    known = _code_by_folded_name()
    if folded in known:
        return Nationality(known[folded])
    return Nationality(None, _suggest(folded))


def _suggest(folded: str) -> tuple[str, ...]:
    known = _code_by_folded_name()
    matches = process.extract(folded, list(known), limit=SUGGESTIONS * 3)
    codes = list(dict.fromkeys(known[name] for name, _score, _index in matches))
    return tuple(name_vi(code) for code in codes[:SUGGESTIONS])
