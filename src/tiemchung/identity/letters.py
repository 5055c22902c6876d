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


_SYLLABLE = re.compile(
    r"(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdđghklmnprstvxfjwz])?"
    r"[aăâeêioôơuưy]{1,3}"
    r"(?:ch|ng|nh|[cmnpt])?"
)


def is_plausible_syllable(word: str) -> bool:
    """True when `word` (any case) has the shape of one Vietnamese syllable with at most one tone mark.

    Used to tell legacy-encoded text from Unicode: it is a shape check, not a dictionary.
    """
    parts = _letter_parts()
    bases: list[str] = []
    tones = 0
    for char in word.lower():
        part = parts.get(char)
        if part is None:
            return False
        bases.append(part[0])
        tones += part[1]
    return tones <= 1 and _SYLLABLE.fullmatch("".join(bases)) is not None
