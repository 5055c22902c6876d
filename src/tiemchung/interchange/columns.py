"""The columns of the vaccination-records format (interchange.md section 2) and how headers are recognised.

A header matches a column when it equals the column's English key or its Vietnamese header after trimming, case
folding and removing diacritics, so "ngay sinh", "NGÀY SINH " and "birth_date" all name the same column.
"""

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header_vi: str
    required: bool
    max_length: int


COLUMNS: tuple[Column, ...] = (
    Column("subject_id", "Mã đối tượng", True, 64),
    Column("record_id", "Mã mũi tiêm", True, 64),
    Column("full_name", "Họ và tên", True, 255),
    Column("birth_date", "Ngày sinh", True, 64),
    Column("sex", "Giới tính", True, 16),
    Column("id_number", "Số CCCD/CMND", False, 64),
    Column("passport_number", "Số hộ chiếu", False, 32),
    Column("nationality", "Quốc tịch", False, 64),
    Column("phone", "Số điện thoại", False, 32),
    Column("province_code", "Mã tỉnh", True, 8),
    Column("district_code", "Mã huyện", True, 8),
    Column("ward_code", "Mã xã", True, 8),
    Column("address", "Địa chỉ", False, 512),
    Column("vaccine", "Tên vắc xin", True, 64),
    Column("lot_number", "Số lô", False, 64),
    Column("vaccination_date", "Ngày tiêm", True, 64),
    Column("dose", "Mũi tiêm", True, 32),
    Column("facility_code", "Mã cơ sở tiêm chủng", True, 32),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
REQUIRED_KEYS = tuple(column.key for column in COLUMNS if column.required)


def fold_header(text: str) -> str:
    """Header text without case, diacritics or extra spaces.

    Written by hand rather than with the identity module's name folding: headers are not names (they hold "/" and
    "_"), and the reader must work for any header text.
    """
    decomposed = unicodedata.normalize("NFD", text.strip().casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.replace("đ", "d").replace("ð", "d").split())


_KEY_BY_FOLDED_HEADER = {
    folded: column.key for column in COLUMNS for folded in (fold_header(column.key), fold_header(column.header_vi))
}


def column_key(header: object) -> str | None:
    """The interchange key a header cell names, or None for a column the format does not define."""
    if header is None:
        return None
    return _KEY_BY_FOLDED_HEADER.get(fold_header(str(header)))


def header_label(key: str) -> str:
    """How a column is named in messages to users: its Vietnamese header."""
    column = COLUMNS_BY_KEY.get(key)
    return column.header_vi if column else key
