"""ICAO 9303 (part 3, section 6) machine-readable names, as the EU DCC's `fnt` / `gnt` fields need them.

Vietnamese letters transliterate by dropping their marks (Đ -> D). The few Latin letters that ICAO writes with two
letters (Ä -> AE, Ö -> OE, Ü -> UE, Å -> AA, Æ -> AE, Ø -> OE, ß -> SS, Þ -> TH, Œ -> OE, Ĳ -> IJ) are in the table
below, for foreigners' names; spaces, hyphens and commas become the filler `<`, other punctuation is dropped.
"""

import re
import unicodedata

from tiemchung.identity.names import fold_name

_ICAO_MULTI_LETTER = str.maketrans(
    {
        "Ä": "AE", "ä": "AE", "Ö": "OE", "ö": "OE", "Ü": "UE", "ü": "UE", "Å": "AA", "å": "AA",
        "Æ": "AE", "æ": "AE", "Ø": "OE", "ø": "OE", "ß": "SS", "Þ": "TH", "þ": "TH", "Œ": "OE",
        "œ": "OE", "Ĳ": "IJ", "ĳ": "IJ",
    }
)  # fmt: skip
_FILLERS = re.compile(r"[\s,\-]+")
_NOT_MRZ = re.compile(r"[^A-Z<]")


def icao_name(text: str) -> str:
    """ "Nguyễn Văn An" -> "NGUYEN<VAN<AN": upper-case ASCII letters, names separated by `<`."""
    if not isinstance(text, str):
        return ""
    # NFC first: the multi-letter table (Ü -> UE) is keyed on composed letters.
    ascii_text = fold_name(unicodedata.normalize("NFC", text).translate(_ICAO_MULTI_LETTER)).upper()
    return _NOT_MRZ.sub("", _FILLERS.sub("<", ascii_text)).strip("<")


def icao_primary_secondary(text: str) -> tuple[str, str]:
    """(family name, given names) in ICAO form for the EU DCC: "Nguyễn Văn An" -> ("NGUYEN", "VAN<AN").

    A Vietnamese full name is family name first: the first word is the primary identifier, the rest secondary.
    """
    transliterated = icao_name(text)
    primary, _, secondary = transliterated.partition("<")
    return primary, secondary
