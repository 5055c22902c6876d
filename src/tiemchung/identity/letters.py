"""The Vietnamese alphabet as data: vowels, tones and the syllable shape, shared by names and legacy decoding.

Everything here is built from Unicode itself (base letter + combining tone mark, composed with NFC), so no
precomposed letter is typed by hand and the tables cannot drift from the standard.
"""

import re
import unicodedata
from functools import cache

# Tone marks in the order used by the legacy code tables: huyền, hỏi, ngã, sắc, nặng.
TONE_MARKS: tuple[str, ...] = ("\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
GRAVE, HOOK, TILDE, ACUTE, DOT = TONE_MARKS

# The twelve vowel letters (with their vowel diacritics but without tone) and the consonant Đ.
VOWELS: tuple[str, ...] = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
MODIFIED_LETTERS: tuple[str, ...] = ("ă", "â", "ê", "ô", "ơ", "ư", "đ")


def toned(vowel: str, tone: str) -> str:
    """The precomposed letter for `vowel` carrying `tone` (a combining mark), e.g. toned("ê", ACUTE) == "ế"."""
    return unicodedata.normalize("NFC", vowel + tone)


@cache
def all_letters() -> frozenset[str]:
    """Every Vietnamese letter, both cases: the 26 Latin letters, Đ, the vowel letters and their 60 toned forms."""
    lower = set("abcdefghijklmnopqrstuvwxyz") | set(MODIFIED_LETTERS)
    lower |= {toned(vowel, tone) for vowel in VOWELS for tone in TONE_MARKS}
    return frozenset(lower | {letter.upper() for letter in lower})


@cache
def _letter_parts() -> dict[str, tuple[str, int]]:
    """lower-case letter -> (letter without tone, number of tone marks it carries: 0 or 1)."""
    parts: dict[str, tuple[str, int]] = {letter: (letter, 0) for letter in all_letters() if letter.islower()}
    for vowel in VOWELS:
        for tone in TONE_MARKS:
            parts[toned(vowel, tone)] = (vowel, 1)
    return parts


# Vowel groups of Vietnamese spelling (without tone), by what may follow them: a final consonant, nothing, or
# either. Groups ending in a glide (ai, ao, ươi...) never take a final consonant; ă, â, iê, uô, ươ... need one.
def _groups(text: str) -> frozenset[str]:
    return frozenset(text.split())


_OPEN_ONLY = _groups(
    "ai ao au ay âu ây eo êu ia iu oi ôi ơi ui ưi ưu ua ưa iêu yêu oai oay oao oeo uây uôi ươi ươu uya uyu uơ"
)
_CLOSED_ONLY = _groups("ă â iê yê uô ươ uyê oă uâ oo")
_EITHER = _groups("a e ê i o ô ơ u ư y oa oe uê uy")
# Open oa, oe, uy: the tone may sit on either vowel (hòa / hoà), the one place the two conventions differ.
_EITHER_TONE_POSITION = frozenset({"oa", "oe", "uy"})
_WITH_DIACRITIC = "ăâêôơư"
_SHAPE = re.compile(r"(ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdđghklmnprstvxfjwz])?([aăâeêioôơuưy]+)(ch|ng|nh|[cmnpt])?")


def _coda_fits(vowels: str, coda: str) -> bool:
    """-nh and -ch follow only a, ê, i, y (anh, ênh, inh, uynh, oach); -ng and -c never follow i, ê, y alone."""
    if coda in ("nh", "ch"):
        return vowels[-1] in "aêiy"
    if coda in ("ng", "c"):
        return vowels[-1] not in "iêy" or vowels in ("iê", "yê", "uyê")
    return True


def _tone_positions(vowels: str, closed: bool) -> set[int]:
    """Where a tone mark may sit in a vowel group, in either placement convention."""
    if "ươ" in vowels:
        return {vowels.index("ơ")}
    marked = [index for index, letter in enumerate(vowels) if letter in _WITH_DIACRITIC]
    if marked:
        return {marked[-1]}
    if len(vowels) == 1 or closed:
        return {len(vowels) - 1}
    if vowels in _EITHER_TONE_POSITION:
        return {0, 1}
    return {0} if len(vowels) == 2 else {1}


def is_plausible_syllable(word: str) -> bool:
    """True when `word` (any case) is spelled like one Vietnamese syllable: a known onset, vowel group and final
    consonant, at most one tone mark, on a vowel where one of the two placement conventions puts it.

    Used to tell legacy-encoded text from Unicode: a spelling check, not a dictionary.
    """
    parts = _letter_parts()
    bases: list[str] = []
    tone_at: list[int] = []
    for index, char in enumerate(word.lower()):
        part = parts.get(char)
        if part is None:
            return False
        bases.append(part[0])
        if part[1]:
            tone_at.append(index)
    match = _SHAPE.fullmatch("".join(bases))
    if match is None or len(tone_at) > 1:
        return False
    onset, vowels, coda = match.groups()
    closed = coda is not None
    if (onset == "qu" and vowels[0] in "ou") or (onset == "gi" and vowels[0] == "i"):
        return False  # the u of qu- and the i of gi- are already there: quoa, giia are misspellings
    if vowels not in (_CLOSED_ONLY if closed else _OPEN_ONLY) and vowels not in _EITHER:
        return False
    if closed and not _coda_fits(vowels, coda):
        return False
    return not tone_at or tone_at[0] - match.start(2) in _tone_positions(vowels, closed)
