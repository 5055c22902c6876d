"""Nationality cells: ISO 3166 alpha-2 codes, or the Vietnamese (or English) names facilities type.

No installed library carries Vietnamese country names, so the names met in vaccination lists are kept here; any
other two-letter code is accepted as typed, and an unknown name is reported back to the facility.
"""

from tiemchung.registry.columns import fold_header

_NAMES = {
    "VN": ("việt nam", "viet nam", "vietnam", "vn"),
    "CN": ("trung quốc", "china"),
    "KR": ("hàn quốc", "south korea", "korea"),
    "KP": ("triều tiên", "north korea"),
    "JP": ("nhật bản", "japan"),
    "TW": ("đài loan", "taiwan"),
    "US": ("hoa kỳ", "mỹ", "united states", "usa"),
    "LA": ("lào", "laos"),
    "KH": ("campuchia", "cambodia"),
    "TH": ("thái lan", "thailand"),
    "MY": ("malaysia",),
    "SG": ("singapore",),
    "PH": ("philippines",),
    "ID": ("indonesia",),
    "MM": ("myanmar",),
    "IN": ("ấn độ", "india"),
    "FR": ("pháp", "france"),
    "DE": ("đức", "germany"),
    "GB": ("anh", "vương quốc anh", "united kingdom", "uk"),
    "RU": ("nga", "russia"),
    "AU": ("úc", "australia"),
    "CA": ("canada",),
    "IT": ("ý", "italy"),
    "NL": ("hà lan", "netherlands"),
    "CU": ("cuba",),
}
_CODE_BY_NAME = {fold_header(name): code for code, names in _NAMES.items() for name in names}


def nationality_code(text: str) -> str | None:
    """The alpha-2 code of a nationality cell; empty means Viet Nam; None when it cannot be recognised."""
    folded = fold_header(text)
    if not folded:
        return "VN"
    if folded in _CODE_BY_NAME:
        return _CODE_BY_NAME[folded]
    if len(folded) == 2 and folded.isalpha() and folded.isascii():
        return folded.upper()
    return None
