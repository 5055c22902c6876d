"""String-level damage done to names, identity numbers and dates by people typing them.

Each function takes the clean value and a numpy random generator and returns the typed value. Harmless
variations (same name for the spec's agreement rules) and errors (a different name) are kept apart so that
the expected verification result can be derived from which ones were applied.
"""

import re
import unicodedata

import numpy as np

_COMBINING_TONES = "\u0300\u0301\u0303\u0309\u0323"
# Open syllables whose tone mark moves between the old (hòa, thủy) and new (hoà, thuỷ) conventions.
# `qu` + y is not affected (quý), hence the look-behind; the syllable must end the word.
_OLD_TO_NEW = re.compile(rf"(?<![qQ])([oOuU])([{_COMBINING_TONES}])([aAeEyY])(?=\s|$)")
_NEW_TO_OLD = re.compile(rf"(?<![qQ])([oOuU])([aAeEyY])([{_COMBINING_TONES}])(?=\s|$)")

_TYPO_LETTERS = "abcdeghiklmnopqrstuvxy"


def nfd(name: str) -> str:
    """Decomposed Unicode, as typed on macOS and some web forms."""
    return unicodedata.normalize("NFD", name)


def has_movable_tone(name: str) -> bool:
    decomposed = nfd(name)
    return bool(_OLD_TO_NEW.search(decomposed) or _NEW_TO_OLD.search(decomposed))


def other_tone_placement(name: str) -> str:
    """Move tone marks of oa/oe/uy open syllables to the other convention (hòa <-> hoà)."""
    decomposed = nfd(name)
    moved = _OLD_TO_NEW.sub(r"\1\3\2", decomposed)
    if moved == decomposed:
        moved = _NEW_TO_OLD.sub(r"\1\3\2", decomposed)
    return unicodedata.normalize("NFC", moved)


def change_case(name: str, rng: np.random.Generator) -> str:
    return name.upper() if rng.random() < 0.7 else name.lower()


def extra_spaces(name: str, rng: np.random.Generator) -> str:
    words = name.split()
    gaps = ["  " if rng.random() < 0.5 else " " for _ in words[1:]]
    joined = words[0] + "".join(gap + word for gap, word in zip(gaps, words[1:], strict=True))
    return (" " if rng.random() < 0.5 else "") + joined + (" " if rng.random() < 0.5 else "  ")


def strip_diacritics(name: str) -> str:
    """ASCII name as typed on a keyboard without a Vietnamese input method (đ has no decomposition)."""
    without_marks = "".join(ch for ch in nfd(name) if not unicodedata.combining(ch))
    return without_marks.replace("đ", "d").replace("Đ", "D")


def letter_typo(name: str, rng: np.random.Generator) -> str:
    """One letter replaced, dropped or doubled, never only a change of case or accent."""
    positions = [i for i, ch in enumerate(name) if ch.isalpha()]
    position = positions[int(rng.integers(len(positions)))]
    original = name[position]
    action = rng.random()
    if action < 0.6:
        base = strip_diacritics(original).lower()
        choices = [letter for letter in _TYPO_LETTERS if letter != base]
        replacement = choices[int(rng.integers(len(choices)))]
        typed = replacement.upper() if original.isupper() else replacement
        return name[:position] + typed + name[position + 1 :]
    if action < 0.8 and _word_length_at(name, position) > 1:
        return name[:position] + name[position + 1 :]
    return name[:position] + original + name[position:]


def _word_length_at(name: str, position: int) -> int:
    start = name.rfind(" ", 0, position) + 1
    end = name.find(" ", position)
    return (end if end >= 0 else len(name)) - start


def transpose_digits(number: str, rng: np.random.Generator) -> str:
    """Two adjacent different digits swapped; unchanged only for a number of one repeated digit."""
    pairs = [i for i in range(len(number) - 1) if number[i] != number[i + 1]]
    if not pairs:
        return number
    i = pairs[int(rng.integers(len(pairs)))]
    return number[:i] + number[i + 1] + number[i] + number[i + 2 :]


def digit_typo(number: str, rng: np.random.Generator) -> str:
    """One digit replaced by another; the first three (the province) are hit less often than the rest."""
    position = int(rng.integers(3, len(number))) if rng.random() < 0.85 else int(rng.integers(0, 3))
    offset = int(rng.integers(1, 10))
    digit = str((int(number[position]) + offset) % 10)
    return number[:position] + digit + number[position + 1 :]


def spaced_number(number: str, rng: np.random.Generator) -> str:
    """A valid number typed with separators ("012 345 678 901", "012.345.678.901")."""
    separator = " " if rng.random() < 0.6 else "."
    return separator.join(number[i : i + 3] for i in range(0, len(number), 3))


def invalid_number(rng: np.random.Generator) -> str:
    """An identity number no spec rule can repair: too short, too long, letters, unknown prefix, a phone."""
    kind = int(rng.integers(5))
    if kind == 0:
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(4, 8))))
    if kind == 1:
        return "0" + "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(12, 14))))
    if kind == 2:
        digits = "".join(str(d) for d in rng.integers(0, 10, 11))
        return "O" + digits  # the letter O typed for the leading zero
    if kind == 3:
        return (
            "0"
            + str(int(rng.choice([3, 5, 7, 9, 13, 16, 18, 21, 97, 99]))).zfill(2)
            + "".join(str(d) for d in rng.integers(0, 10, 9))
        )
    # a mobile phone number typed in the ID column: ten digits that pad to an unknown prefix 000
    return "09" + "".join(str(d) for d in rng.integers(0, 10, 8))
