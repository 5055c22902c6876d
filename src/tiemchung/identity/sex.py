"""Sex as typed: Nam/Nữ (any case, with or without diacritics, legacy-encoded too), M/F, male/female.

Numeric codes are NOT accepted: systems disagree (1/0, 1/2, 0/1), so a digit is ambiguous and returns None.
"""

from typing import Literal

from tiemchung.identity.legacy import decode_legacy
from tiemchung.identity.names import fold_name

Sex = Literal["M", "F"]

_MALE = frozenset({"nam", "m", "male", "trai", "gioi tinh nam"})
_FEMALE = frozenset({"nu", "f", "female", "gai", "gioi tinh nu"})


def parse_sex(raw: object) -> Sex | None:
    """ "Nam", "NAM", "M", "male" -> "M"; "Nữ", "nu", "N÷" (TCVN3), "Nöõ" (VNI), "F", "female" -> "F"; else None."""
    if not isinstance(raw, str):
        return None
    folded = fold_name(decode_legacy(raw).text).strip(".")
    if folded in _MALE:
        return "M"
    if folded in _FEMALE:
        return "F"
    return None
