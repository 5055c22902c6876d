"""Streaming the cells of a workbook's first worksheet with expat: fast, and memory bounded by one chunk of XML.

openpyxl still reads the workbook's structure (which part is the first sheet, the 1904 date system, the
stylesheet: fonts and date formats), but its read-only cell reader builds an ElementTree element per XML node and
costs about 60 µs a cell on this machine, while the 100,000-row target needs a few µs: the sheet XML is therefore
read here with raw expat callbacks. It also avoids openpyxl's dimension scan, which reads a whole sheet when the
`<dimension>` element is missing (workbooks written by openpyxl's write-only mode).
"""

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.parsers import expat

CHUNK_BYTES = 256 * 1024
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_DIMENSION_ROWS = re.compile(r"[A-Z]*(\d+)$")


@dataclass(frozen=True, slots=True)
class StreamCell:
    column: int  # 0-based
    value: object
    font: str | None
    formula: bool


@dataclass(frozen=True, slots=True)
class WorkbookLayout:
    sheet_part: str
    shared_strings: list[str]
    fonts_by_style: list[str | None]
    date_styles: frozenset[int]
    epoch: datetime


def read_layout(archive: zipfile.ZipFile) -> WorkbookLayout | None:
    """The first worksheet's part and what its cells refer to; None when the workbook has no worksheet."""
    from openpyxl.reader.workbook import WorkbookParser

    parser = WorkbookParser(archive, "xl/workbook.xml")
    parser.parse()
    sheet_part = next(
        (rel.target for _, rel in parser.find_sheets() if rel.Type.endswith("/worksheet")),
        None,
    )
    if sheet_part is None:
        return None
    fonts, dates = _styles(archive)
    return WorkbookLayout(sheet_part.lstrip("/"), _shared_strings(archive), fonts, dates, parser.wb.epoch)


def _styles(archive: zipfile.ZipFile) -> tuple[list[str | None], frozenset[int]]:
    from openpyxl.styles.stylesheet import Stylesheet
    from openpyxl.xml.functions import fromstring

    if "xl/styles.xml" not in archive.namelist():
        return [], frozenset()
    # Typed loosely: openpyxl's stubs know neither the tree argument nor the date-style index it computes.
    stylesheet: Any = Stylesheet.from_tree(fromstring(archive.read("xl/styles.xml")))  # type: ignore[arg-type]
    fonts = list(stylesheet.fonts)
    names: list[str | None] = [
        fonts[style.fontId].name if style.fontId < len(fonts) else None for style in stylesheet.cell_styles
    ]
    return names, frozenset(stylesheet.date_formats)


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    """The shared-string table: each <si> is its <t> texts joined (rich-text runs), phonetic runs left out."""
    strings: list[str] = []
    parts: list[str] = []
    state = {"in_t": False, "skip": 0}

    def start(name: str, _attributes: dict[str, str]) -> None:
        name = _local(name)
        if name == "rPh":
            state["skip"] += 1
        elif name == "t" and not state["skip"]:
            state["in_t"] = True

    def end(name: str) -> None:
        name = _local(name)
        if name == "si":
            strings.append("".join(parts))
            parts.clear()
        elif name == "rPh":
            state["skip"] -= 1
        elif name == "t":
            state["in_t"] = False

    def text(data: str) -> None:
        if state["in_t"]:
            parts.append(data)

    names = archive.namelist()
    part = "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else None
    if part is None:
        return strings
    parser = _parser(start, end, text)
    with archive.open(part) as source:
        while chunk := source.read(CHUNK_BYTES):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return strings


def _parser(start: Any, end: Any, text: Any) -> Any:
    """An expat parser calling start(name, attributes), end(name), text(data); element names arrive as written
    (with a prefix such as "x:c" in files from some writers: the handlers strip it)."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    return parser


def _local(name: str) -> str:
    return name.rpartition(":")[2] if ":" in name else name


_COLUMN_CACHE: dict[str, int] = {}


def _column_index(letters: str) -> int:
    index = _COLUMN_CACHE.get(letters)
    if index is None:
        index = 0
        for letter in letters:
            index = index * 26 + (ord(letter) - 64)
        index -= 1
        _COLUMN_CACHE[letters] = index
    return index


class SheetStream:
    """Rows of one worksheet as (row number, cells), in file order; `declared_rows` from <dimension> once seen."""

    def __init__(self, archive: zipfile.ZipFile, layout: WorkbookLayout) -> None:
        self.archive = archive
        self.layout = layout
        self.declared_rows: int | None = None
        self._done: list[tuple[int, list[StreamCell]]] = []
        self._row_number = 0
        self._cells: list[StreamCell] = []
        self._cell: dict[str, Any] | None = None
        self._text: list[str] = []
        self._collect = False

    def rows(self) -> Iterator[tuple[int, list[StreamCell]]]:
        parser = _parser(self._start, self._end, self._data)
        with self.archive.open(self.layout.sheet_part) as source:
            while chunk := source.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
                yield from self._drain()
        parser.Parse(b"", True)
        yield from self._drain()

    def _drain(self) -> Iterator[tuple[int, list[StreamCell]]]:
        done, self._done = self._done, []
        yield from done

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        name = _local(name)
        if name == "c":
            self._cell = {"r": attributes.get("r"), "t": attributes.get("t", "n"), "s": attributes.get("s"),
                          "v": None, "f": False}  # fmt: skip
        elif name in ("v", "t") and self._cell is not None:
            self._collect = True
            self._text = []
        elif name == "f" and self._cell is not None:
            self._cell["f"] = True
        elif name == "row":
            self._row_number = int(attributes.get("r", self._row_number + 1))
            self._cells = []
        elif name == "dimension":
            match = _DIMENSION_ROWS.search(attributes.get("ref", ""))
            self.declared_rows = int(match.group(1)) if match else None

    def _data(self, data: str) -> None:
        if self._collect:
            self._text.append(data)

    def _end(self, name: str) -> None:
        name = _local(name)
        if name in ("v", "t") and self._cell is not None:
            self._collect = False
            text = "".join(self._text)
            self._cell["v"] = text if self._cell["v"] is None else self._cell["v"] + text
        elif name == "c" and self._cell is not None:
            self._cells.append(self._finish_cell(self._cell))
            self._cell = None
        elif name == "row":
            self._done.append((self._row_number, self._cells))

    def _finish_cell(self, cell: dict[str, Any]) -> StreamCell:
        ref = cell["r"]
        column = _column_index(_CELL_REF.match(ref).group(1)) if ref else len(self._cells)  # type: ignore[union-attr]
        style = int(cell["s"]) if cell["s"] else 0
        fonts = self.layout.fonts_by_style
        font = fonts[style] if style < len(fonts) else None
        return StreamCell(column, self._value(cell["t"], cell["v"], style), font, cell["f"])

    def _value(self, kind: str, raw: str | None, style: int) -> object:
        if raw is None:
            return None
        if kind == "s":
            index = int(raw)
            strings = self.layout.shared_strings
            return strings[index] if 0 <= index < len(strings) else None
        if kind in ("str", "inlineStr", "e", "d"):
            return raw
        if kind == "b":
            return raw == "1"
        return self._number(raw, style)

    def _number(self, raw: str, style: int) -> object:
        try:
            number = float(raw)
        except ValueError:
            return raw
        if style in self.layout.date_styles:
            from openpyxl.utils.datetime import from_excel

            try:
                return from_excel(number, self.layout.epoch)
            except (ValueError, OverflowError):
                return number
        if number.is_integer() and "." not in raw and "E" not in raw.upper():
            return int(raw)
        return number
