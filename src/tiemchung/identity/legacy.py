"""Legacy Vietnamese encodings: TCVN3 (ABC, `.Vn*` fonts), VNI (`VNI-*` fonts) and VIQR (plain ASCII).

Offices still type names with these 8-bit fonts. The cell then holds Latin-1-looking text ("NguyÔn V¨n Hïng",
"Nguyeãn Thò Thuyû") that only the font makes readable. We decode by the cell's font name when known, and
otherwise detect the encoding by which reading gives Vietnamese syllables.

The code tables are written here (as byte positions, with the letters built from Unicode in `letters`) because
no maintained PyPI package provides them and the project cannot add dependencies; they follow TCVN 5712:1993
(VN3, the "ABC" set) and the VNI Windows table.

VIQR needs no font: ASCII text is read as VIQR only when it carries a mark no ASCII name has (^ ( + ` ? ~ after
a vowel) and its decoded words are better Vietnamese.

TCVN3 has no capital accented letters: offices type capitals with a separate capital font (`.VnTimeH`,
`.VnArialH`...) that draws the lower-case codes as capitals. So `decode_legacy(text, ".VnTimeH")` upper-cases,
and `encode_tcvn3` writes a capital accented letter with its lower-case code (what the office would type under a
capital font): decoding then gives the lower-case letter, or the capital with a capital font. The seven capitals
TCVN3 does have (Ă Â Ê Ô Ơ Ư Đ) and unaccented capitals round-trip as they are.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from tiemchung.identity.letters import ACUTE, DOT, GRAVE, HOOK, TILDE, TONE_MARKS, is_plausible_syllable, toned

Encoding = Literal["unicode", "tcvn3", "vni", "viqr"]

# TCVN3: Latin-1 code of each toned lower-case vowel, in TONE_MARKS order (huyền, hỏi, ngã, sắc, nặng).
_TCVN3_TONED: dict[str, tuple[int, int, int, int, int]] = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_PLAIN: dict[str, int] = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
}  # fmt: skip


def _tcvn3_decode_map() -> dict[int, str]:
    table: dict[int, str] = {code: letter for letter, code in _TCVN3_PLAIN.items()}
    for vowel, codes in _TCVN3_TONED.items():
        for tone, code in zip(TONE_MARKS, codes, strict=True):
            table[code] = toned(vowel, tone)
    return table


_TCVN3_DECODE: dict[int, str] = _tcvn3_decode_map()
_TCVN3_ENCODE: dict[int, str] = {ord(letter): chr(code) for code, letter in _TCVN3_DECODE.items()}
# Capital accented letters: written with the lower-case code (see module docstring).
_TCVN3_ENCODE.update(
    {
        ord(letter.upper()): chr(code)
        for code, letter in _TCVN3_DECODE.items()
        if letter.upper() != letter and ord(letter.upper()) not in _TCVN3_ENCODE
    }
)

# VNI: a vowel letter is a base letter followed by one mark character; a few letters are single characters.
_VNI_TONE = dict(zip(TONE_MARKS, "øûõùï", strict=True))
_VNI_CIRCUMFLEX = {"": "â", GRAVE: "à", HOOK: "å", TILDE: "ã", ACUTE: "á", DOT: "ä"}
_VNI_BREVE = {"": "ê", GRAVE: "è", HOOK: "ú", TILDE: "ü", ACUTE: "é", DOT: "ë"}
_VNI_I = {GRAVE: "ì", HOOK: "æ", TILDE: "ó", ACUTE: "í", DOT: "ò"}


def _vni_lower_table() -> dict[str, str]:
    """Unicode lower-case letter -> its VNI spelling."""
    table = {"đ": "ñ", "ơ": "ô", "ư": "ö", "ỵ": "î"}
    for base in "aeouy":
        table |= {toned(base, tone): base + mark for tone, mark in _VNI_TONE.items()}
    for letter, base in (("â", "a"), ("ê", "e"), ("ô", "o")):
        table |= {toned(letter, tone): base + mark for tone, mark in _VNI_CIRCUMFLEX.items()}
    table |= {toned("ă", tone): "a" + mark for tone, mark in _VNI_BREVE.items()}
    table |= {toned("i", tone): mark for tone, mark in _VNI_I.items()}
    table |= {toned("ơ", tone): "ô" + mark for tone, mark in _VNI_TONE.items()}
    table |= {toned("ư", tone): "ö" + mark for tone, mark in _VNI_TONE.items()}
    table["ỵ"] = "î"  # VNI has a single code for ỵ, not "y" + the dot mark
    return table


_VNI_ENCODE_LOWER = _vni_lower_table()
_VNI_ENCODE: dict[int, str] = {ord(letter): code for letter, code in _VNI_ENCODE_LOWER.items()}
_VNI_ENCODE |= {ord(letter.upper()): code.upper() for letter, code in _VNI_ENCODE_LOWER.items()}


def _vni_decode_table() -> dict[str, str]:
    """VNI spelling -> Unicode letter; a capital base letter with a lower-case mark (sloppy typing) is accepted."""
    table: dict[str, str] = {}
    for letter, code in _VNI_ENCODE_LOWER.items():
        table[code] = letter
        table[code.upper()] = letter.upper()
        if len(code) == 2:
            table[code[0].upper() + code[1]] = letter.upper()
    return table


_VNI_DECODE = _vni_decode_table()
_VNI_PATTERN = re.compile("|".join(sorted(map(re.escape, _VNI_DECODE), key=len, reverse=True)))


# VIQR (RFC 1456): plain ASCII, each mark typed after its letter: ( breve, ^ circumflex, + horn, then the tone
# ' ` ? ~ . (sắc, huyền, hỏi, ngã, nặng); dd is đ. "Nguye^~n Va(n A" is Nguyễn Văn A.
_VIQR_TONE = dict(zip(TONE_MARKS, "`?~'.", strict=True))
_VIQR_LETTER = {"ă": "a(", "â": "a^", "ê": "e^", "ô": "o^", "ơ": "o+", "ư": "u+", "đ": "dd"}


def _viqr_lower_table() -> dict[str, str]:
    """Unicode lower-case letter -> its VIQR spelling."""
    table = dict(_VIQR_LETTER)
    for vowel in ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"):
        base = _VIQR_LETTER.get(vowel, vowel)
        table |= {toned(vowel, tone): base + mark for tone, mark in _VIQR_TONE.items()}
    return table


_VIQR_ENCODE_LOWER = _viqr_lower_table()
_VIQR_ENCODE: dict[int, str] = {ord(letter): code for letter, code in _VIQR_ENCODE_LOWER.items()}
_VIQR_ENCODE |= {ord(letter.upper()): code.upper() for letter, code in _VIQR_ENCODE_LOWER.items()}
_VIQR_DECODE = {code: letter for letter, code in _VIQR_ENCODE_LOWER.items()} | {
    code.upper(): letter.upper() for letter, code in _VIQR_ENCODE_LOWER.items()
}
_VIQR_DECODE["Dd"] = "Đ"
_VIQR_PATTERN = re.compile("|".join(sorted(map(re.escape, _VIQR_DECODE), key=len, reverse=True)))
# Marks that never occur in an ASCII name: only text with one of them is read as VIQR.
_VIQR_SIGNS = re.compile(r"[aeiouyAEIOUY][(^+]|[aeiouyAEIOUY][(^+]?[`?~]")


@dataclass(frozen=True)
class LegacyDecoding:
    """The decoded text, the encoding it was read as, and whether that encoding was detected (no font known)."""

    text: str
    encoding: Encoding
    detected: bool


def encode_tcvn3(text: str) -> str:
    """Unicode -> TCVN3 (as the Latin-1 characters a `.Vn*` font cell holds). Capitals: see the module docstring."""
    return text.translate(_TCVN3_ENCODE)


def encode_vni(text: str) -> str:
    """Unicode -> VNI (as the Latin-1 characters a `VNI-*` font cell holds). Both cases are encoded."""
    return text.translate(_VNI_ENCODE)


def encode_viqr(text: str) -> str:
    """Unicode -> VIQR (ASCII): "Nguyễn Văn A" -> "Nguye^~n Va(n A"."""
    return text.translate(_VIQR_ENCODE)


def decode_viqr(text: str) -> str:
    return _VIQR_PATTERN.sub(lambda match: _VIQR_DECODE[match.group()], text)


def decode_tcvn3(text: str, *, capital_font: bool = False) -> str:
    decoded = text.translate(_TCVN3_DECODE)
    return decoded.upper() if capital_font else decoded


def decode_vni(text: str) -> str:
    return _VNI_PATTERN.sub(lambda match: _VNI_DECODE[match.group()], text)


def font_encoding(font: str | None) -> Encoding | None:
    """The encoding a font name implies: `.VnTime`, `.VnArialH` -> tcvn3; `VNI-Times` -> vni; others -> unicode."""
    if font is None or not font.strip():
        return None
    name = font.strip().lower()
    if name.startswith(".vn") or name.startswith("vn3"):
        return "tcvn3"
    if name.startswith("vni"):
        return "vni"
    return "unicode"


def _is_capital_font(font: str) -> bool:
    # TCVN3 capital fonts end with "H": .VnTimeH, .VnArialH, .VnCentury SchoolbookH...
    return font.strip().endswith("H")


def decode_legacy(text: str, font: str | None = None) -> LegacyDecoding:
    """Decode a cell's text by its font name, or detect TCVN3/VNI when no font is known.

    Real Unicode Vietnamese is left untouched: any character beyond Latin-1 means the text is Unicode.
    """
    if not isinstance(text, str):
        return LegacyDecoding("", "unicode", False)
    encoding = font_encoding(font)
    if encoding == "tcvn3":
        return LegacyDecoding(decode_tcvn3(text, capital_font=_is_capital_font(font or "")), "tcvn3", False)
    if encoding == "vni":
        return LegacyDecoding(decode_vni(text), "vni", False)
    if encoding == "unicode":
        return LegacyDecoding(text, "unicode", False)
    if text.isascii():
        return _detect_viqr(text)
    if max(text) > "\xff":  # real Unicode: nothing to decode (fast path)
        return LegacyDecoding(text, "unicode", True)
    detected = detect_encoding(text)
    if detected == "tcvn3":
        return LegacyDecoding(decode_tcvn3(text, capital_font=_looks_all_capitals(text)), "tcvn3", True)
    if detected == "vni":
        return LegacyDecoding(decode_vni(text), "vni", True)
    return LegacyDecoding(text, "unicode", True)


def detect_encoding(text: str) -> Encoding:
    """The encoding `decode_legacy` would read a Latin-1 cell in, when no font is known (see `_detect`)."""
    return _detect(text) if isinstance(text, str) else "unicode"


@lru_cache(maxsize=1 << 16)
def _detect(text: str) -> Encoding:
    """Which reading of `text` looks most like Vietnamese: fewest misspelt words (counted twice), then fewest words
    in an odd mix of cases; Unicode wins ties, so real Unicode text is never changed.

    Only text made of Latin-1 characters with at least one beyond ASCII can be legacy-encoded.
    """
    if text.isascii() or max(text) > "\xff":
        return "unicode"
    candidates: tuple[tuple[Encoding, str], ...] = (
        ("unicode", text),
        ("tcvn3", decode_tcvn3(text, capital_font=_looks_all_capitals(text))),
        ("vni", decode_vni(text)),
    )
    return min(candidates, key=lambda candidate: _implausibility(candidate[1]))[0]


def _detect_viqr(text: str) -> LegacyDecoding:
    """ASCII text is VIQR when it carries a mark no name has (^ ( + ` ? ~ after a vowel) and reads better decoded."""
    if _VIQR_SIGNS.search(text) is None:
        return LegacyDecoding(text, "unicode", True)
    decoded = decode_viqr(text)
    if _implausibility(decoded) < _implausibility(text):
        return LegacyDecoding(decoded, "viqr", True)
    return LegacyDecoding(text, "unicode", True)


def _looks_all_capitals(text: str) -> bool:
    """Text typed with a TCVN3 capital font: its ASCII letters are all capitals (the accented ones read lower)."""
    ascii_letters = [char for char in text if char.isascii() and char.isalpha()]
    return bool(ascii_letters) and all(char.isupper() for char in ascii_letters)


def _is_plain_word(word: str) -> bool:
    """ASCII letters only: the same in every reading, so not counted (VIQR marks are not letters)."""
    return word.isascii() and word.isalpha()


def _implausibility(text: str) -> int:
    words = [word.strip(".,;:()-'\"") for word in text.split()]
    misspelt = sum(1 for word in words if not _is_plain_word(word) and not is_plausible_syllable(word))
    odd_case = sum(1 for word in words if word and word not in (word.lower(), word.upper(), word.capitalize()))
    return 2 * misspelt + odd_case
