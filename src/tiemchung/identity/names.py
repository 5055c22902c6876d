"""Person names: the canonical form names agree on, an ASCII fold for blocking, display and ICAO forms.

The agreement rule (interchange spec): names agree when equal after Unicode NFC, one tone-mark placement, case
folding and whitespace collapsing (legacy font encodings are decoded first, separately, by `decode_legacy`).

Tone placement: the project writes hòa, khỏe, thủy (the spec calls this the "new" convention; the other one writes
hoà, khoẻ, thuỷ). Only the open syllables oa, oe, uy differ between the two, so the rule moves a tone from the
second to the first vowel of a word that ends in oa/oe/uy. Words starting qu- keep it on y (quý, quỳ: the u
belongs to the consonant), closed syllables (hoàng, thuyết) and every other vowel group are unaffected.

Every rule is a table below, used both by the Python functions and by the DuckDB SQL expressions
`canonical_name_sql` / `fold_name_sql` that the verification engine runs on 100 million register names.
"""

import re
import unicodedata
from functools import lru_cache

from tiemchung.identity.letters import TONE_MARKS, toned

# Characters that are invisible in a name: removed before anything else (zero-width spaces, soft hyphen, BOM,
# and NUL, which DuckDB's nfc_normalize treats as the end of the text).
INVISIBLE_CHARACTERS = "\x00\u00ad\u200b\u200c\u200d\u2060\ufeff"
# Apostrophe look-alikes in ethnic-minority names (H’Hen, Ksor ʼH): all become "'".
APOSTROPHES = "\u2018\u2019\u02bc"
# Characters replaced before anything else: apostrophe look-alikes, and the Turkish dotted İ, which Python
# lower-cases to two characters (i + combining dot) and DuckDB to one: both now see a plain I.
REPLACED_CHARACTERS: dict[str, str] = {**dict.fromkeys(APOSTROPHES, "'"), "\u0130": "I"}
# Exactly Python's str.isspace() set, so that str.split() and the SQL character class collapse the same runs.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Replaced after lower-casing: the Icelandic eth, which sometimes stands in for Đ (ð -> đ), and the Greek final
# sigma, which Python's lower() produces at a word's end and DuckDB's does not (ς -> σ).
AFTER_LOWER: dict[str, str] = {"ð": "đ", "ς": "σ"}
_AFTER_LOWER_TABLE = str.maketrans(AFTER_LOWER)


def _tone_moves() -> dict[str, str]:
    """Old-placement ending -> project placement, e.g. "oà" -> "òa", "uỷ" -> "ủy" (15 entries)."""
    moves: dict[str, str] = {}
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        for tone in TONE_MARKS:
            moves[first + toned(second, tone)] = toned(first, tone) + second
    return moves


TONE_MOVES: dict[str, str] = _tone_moves()
# The consonant after which "uy" is not a vowel pair: "quý" keeps its tone on y.
TONE_MOVE_BLOCKER = "q"

_PRE_TABLE = str.maketrans({**dict.fromkeys(INVISIBLE_CHARACTERS, None), **REPLACED_CHARACTERS})


def _move_tone(word: str) -> str:
    ending = word[-2:]
    moved = TONE_MOVES.get(ending)
    if moved is None or (len(word) > 2 and word[-3] == TONE_MOVE_BLOCKER):
        return word
    return word[:-2] + moved


def canonical_name(text: str) -> str:
    """The agreement key: NFC, project tone placement, lower case, single spaces, stripped.

    Legacy encodings are NOT decoded here (decode first with `decode_legacy`); a non-string gives "".
    """
    return _canonical(text) if isinstance(text, str) else ""


# Real names repeat a lot (Nguyễn Văn Hùng...): the cache pays for itself; 2^18 entries is about 70 MB at most.
@lru_cache(maxsize=1 << 18)
def _canonical(text: str) -> str:
    folded = unicodedata.normalize("NFC", text.translate(_PRE_TABLE)).lower()
    if "ð" in folded or "ς" in folded:  # rare: skip the slower translate otherwise
        folded = folded.translate(_AFTER_LOWER_TABLE)
    return " ".join(_move_tone(word) for word in folded.split())


def _fold_table() -> dict[int, str | None]:
    """Per character: lower-case ASCII without marks (Đ/đ/Ð/ð -> d), whitespace -> " ", anything else dropped."""
    table: dict[int, str | None] = {}
    for code in range(0x3100):
        char = chr(code)
        if char in WHITESPACE:
            table[code] = " "
            continue
        if char in INVISIBLE_CHARACTERS:
            table[code] = None
            continue
        char = REPLACED_CHARACTERS.get(char, char)
        base = "".join(c for c in unicodedata.normalize("NFD", char.lower()) if not unicodedata.combining(c))
        base = base.replace("đ", "d").replace("ð", "d")
        ascii_base = base.encode("ascii", "ignore").decode("ascii")
        table[code] = ascii_base or None
    return table


_FOLD_TABLE = _fold_table()


def fold_name(text: str) -> str:
    """ASCII lower case without diacritics (Đ, đ, Ð -> d), single spaces: for blocking and fuzzy comparison."""
    if not isinstance(text, str):
        return ""
    folded = text.translate(_FOLD_TABLE)
    if not folded.isascii():  # characters beyond the table (CJK, symbols): no ASCII form, dropped
        folded = folded.encode("ascii", "ignore").decode("ascii")
    return " ".join(folded.split())


_WORD_START = re.compile(r"(^|[ '\-])(\w)")


def display_name(text: str) -> str:
    """For screens: the canonical form with each word (and each part after ' or -) capitalised."""
    return _WORD_START.sub(lambda match: match.group(1) + _capital(match.group(2)), canonical_name(text))


def _capital(letter: str) -> str:
    # Only a capital that lower-cases back (not ß -> SS, ı -> I): the display form must keep the same canonical form.
    upper = letter.upper()
    return upper if upper.lower() == letter else letter


def standard_tone_marks(text: str) -> str:
    """NFC and project tone placement, keeping case and spacing: "Tỉnh Hoà Bình" -> "Tỉnh Hòa Bình"."""
    normalized = unicodedata.normalize("NFC", text)
    return re.sub(r"\w+", lambda match: _move_tone_keep_case(match.group()), normalized)


def _move_tone_keep_case(word: str) -> str:
    moved = _move_tone(word.lower())
    if moved == word.lower():
        return word
    return "".join(new.upper() if old.isupper() else new for old, new in zip(word, moved, strict=True))


def split_name(text: str) -> tuple[str, str, str]:
    """(family, middle, given): first word, the words between, last word. A one-word name is a given name.

    Compound family names (Tôn Nữ, Âu Dương) cannot be told from middle names without a list: the first word is
    taken as the family name, which is right for the great majority.
    """
    words = text.split() if isinstance(text, str) else []
    if not words:
        return ("", "", "")
    if len(words) == 1:
        return ("", "", words[0])
    return (words[0], " ".join(words[1:-1]), words[-1])


# --- DuckDB SQL forms ----------------------------------------------------------------------------------------


def _sql_literal(text: str) -> str:
    """A SQL string literal; NUL cannot appear in SQL text, so it is spliced in with chr(0)."""
    parts = ("'" + part.replace("'", "''") + "'" for part in text.split("\x00"))
    return "(" + " || chr(0) || ".join(parts) + ")" if "\x00" in text else next(parts)


def _re2_class(characters: str) -> str:
    """An RE2 character class with each character escaped as \\x{...}, so control characters stay readable."""
    return "[" + "".join(f"\\x{{{ord(char):x}}}" for char in characters) + "]"


def _sql_pre_table(expr: str) -> str:
    """SQL for `_PRE_TABLE`: replaced characters mapped, invisible ones deleted (no counterpart in `to`)."""
    return (
        f"translate({expr}, {_sql_literal(''.join(REPLACED_CHARACTERS) + INVISIBLE_CHARACTERS)}, "
        f"{_sql_literal(''.join(REPLACED_CHARACTERS.values()))})"
    )


def _sql_collapse_whitespace(expr: str) -> str:
    return f"trim(regexp_replace({expr}, {_sql_literal(_re2_class(WHITESPACE) + '+')}, ' ', 'g'))"


def _sql_move_tone(word: str) -> str:
    endings = "|".join(TONE_MOVES)
    moved = word
    for ending, replacement in TONE_MOVES.items():
        pattern = f"^(|.*[^{TONE_MOVE_BLOCKER}]){ending}$"
        moved = f"regexp_replace({moved}, {_sql_literal(pattern)}, {_sql_literal(chr(92) + '1' + replacement)})"
    return f"CASE WHEN regexp_matches({word}, {_sql_literal('(' + endings + ')$')}) THEN {moved} ELSE {word} END"


def canonical_name_sql(expr: str) -> str:
    """A DuckDB SQL expression equal to `canonical_name(expr)` (NULL stays NULL)."""
    pre = _sql_pre_table(expr)
    before, after = _sql_literal("".join(AFTER_LOWER)), _sql_literal("".join(AFTER_LOWER.values()))
    lowered = f"translate(lower(nfc_normalize({pre})), {before}, {after})"
    collapsed = _sql_collapse_whitespace(lowered)
    return f"array_to_string(list_transform(string_split({collapsed}, ' '), lambda w: {_sql_move_tone('w')}), ' ')"


def fold_name_sql(expr: str) -> str:
    """A DuckDB SQL expression equal to `fold_name(expr)` (NULL stays NULL)."""
    spaced = f"regexp_replace({expr}, {_sql_literal(_re2_class(WHITESPACE))}, ' ', 'g')"
    pre = _sql_pre_table(spaced)
    stripped = f"translate(strip_accents(lower(nfc_normalize({pre}))), 'đð', 'dd')"
    ascii_only = f"regexp_replace({stripped}, '[^\\x{{0}}-\\x{{7f}}]', '', 'g')"
    return f"trim(regexp_replace({ascii_only}, ' +', ' ', 'g'))"
