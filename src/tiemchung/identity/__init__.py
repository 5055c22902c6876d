"""Identity rules: ID numbers, dates, sex and names, per docs/spec/identity.md and the interchange agreement rules.

Nothing here raises on user data: checks return results that carry their reasons in Vietnamese.
"""

from tiemchung.identity.dates import DateCheck, DateStatus, PartialDate, parse_date
from tiemchung.identity.findings import Finding
from tiemchung.identity.icao import icao_name, icao_primary_secondary
from tiemchung.identity.ids import IdCheck, IdKind, IdStatus, check_id_number, check_passport, cross_check_cccd
from tiemchung.identity.legacy import (
    LegacyDecoding,
    decode_legacy,
    decode_tcvn3,
    decode_viqr,
    decode_vni,
    detect_encoding,
    encode_tcvn3,
    encode_viqr,
    encode_vni,
    font_encoding,
)
from tiemchung.identity.names import (
    canonical_name,
    canonical_name_sql,
    display_name,
    fold_name,
    fold_name_sql,
    split_name,
    standard_tone_marks,
)
from tiemchung.identity.sex import Sex, parse_sex

__all__ = [
    "DateCheck",
    "DateStatus",
    "Finding",
    "IdCheck",
    "IdKind",
    "IdStatus",
    "LegacyDecoding",
    "PartialDate",
    "Sex",
    "canonical_name",
    "canonical_name_sql",
    "check_id_number",
    "check_passport",
    "cross_check_cccd",
    "decode_legacy",
    "decode_tcvn3",
    "decode_viqr",
    "decode_vni",
    "detect_encoding",
    "display_name",
    "encode_tcvn3",
    "encode_viqr",
    "encode_vni",
    "fold_name",
    "fold_name_sql",
    "font_encoding",
    "icao_name",
    "icao_primary_secondary",
    "parse_date",
    "parse_sex",
    "split_name",
    "standard_tone_marks",
]
