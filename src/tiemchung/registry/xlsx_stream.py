"""Streaming the cells of a workbook's first worksheet with expat: fast, and memory bounded by one chunk of XML.

openpyxl still reads the workbook's structure (which part is the first sheet, the 1904 date system, the
stylesheet: fonts and date formats), but its read-only cell reader builds an ElementTree element per XML node and
costs about 60 µs a cell on this machine, while the 100,000-row target needs a few µs: the sheet XML is therefore
read here with raw expat callbacks. It also avoids openpyxl's dimension scan, which reads a whole sheet when the
`<dimension>` element is missing (workbooks written by openpyxl's write-only mode).
"""

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.parsers import expat

from tiemchung.registry.sources import EMPTY_CELL, RawCell

CHUNK_BYTES = 256 * 1024
DIGITS = "0123456789"


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


def _column_index(ref: str) -> int:
    """0-based column of a cell reference ("AB12" -> 27)."""
    letters = ref.rstrip(DIGITS)
    index = _COLUMN_CACHE.get(letters)
    if index is None:
        index = 0
        for letter in letters:
            index = index * 26 + (ord(letter) - 64)
        index -= 1
        _COLUMN_CACHE[letters] = index
    return index


class SheetStream:
    """Rows of one worksheet as (row number, dense list of RawCell), in file order.

    The expat callbacks keep the cell being read in plain attributes (no object per XML node): this loop runs for
    every cell of every upload. `declared_rows` holds the <dimension> row count once the parser has met it (it
    comes before the data).
    """

    def __init__(self, archive: zipfile.ZipFile, layout: WorkbookLayout) -> None:
        self.archive = archive
        self.layout = layout
        self.declared_rows: int | None = None
        self._done: list[tuple[int, list[RawCell]]] = []
        self._row_number = 0
        self._cells: list[tuple[int, RawCell]] = []
        self._in_cell = False
        self._ref: str | None = None
        self._type = "n"
        self._style: str | None = None
        self._raw: str | None = None
        self._formula = False
        self._text: list[str] = []
        self._collect = False
        self._styles: dict[str | None, tuple[str | None, bool]] = {}

    def rows(self) -> Iterator[tuple[int, list[RawCell]]]:
        parser = _parser(self._start, self._end, self._data)
        with self.archive.open(self.layout.sheet_part) as source:
            while chunk := source.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
                yield from self._drain()
        parser.Parse(b"", True)
        yield from self._drain()

    def _drain(self) -> Iterator[tuple[int, list[RawCell]]]:
        done, self._done = self._done, []
        yield from done

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        if ":" in name:
            name = name.rpartition(":")[2]
        if name == "c":
            self._in_cell = True
            self._ref = attributes.get("r")
            self._type = attributes.get("t", "n")
            self._style = attributes.get("s")
            self._raw = None
            self._formula = False
        elif (name == "v" or name == "t") and self._in_cell:
            self._collect = True
            self._text = []
        elif name == "f" and self._in_cell:
            self._formula = True
        elif name == "row":
            self._row_number = int(attributes.get("r", self._row_number + 1))
            self._cells = []
        elif name == "dimension":
            last = attributes.get("ref", "").rpartition(":")[2].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            self.declared_rows = int(last) if last.isdigit() else None

    def _data(self, data: str) -> None:
        if self._collect:
            self._text.append(data)

    def _end(self, name: str) -> None:
        if ":" in name:
            name = name.rpartition(":")[2]
        if name == "c":
            self._in_cell = False
            self._finish_cell()
        elif name == "v" or name == "t":
            if self._collect:
                self._collect = False
                text = "".join(self._text)
                self._raw = text if self._raw is None else self._raw + text
        elif name == "row":
            self._done.append((self._row_number, self._dense()))

    def _dense(self) -> list[RawCell]:
        cells = self._cells
        if not cells:
            return []
        dense = [EMPTY_CELL] * (max(column for column, _ in cells) + 1)
        for column, cell in cells:
            dense[column] = cell
        return dense

    def _finish_cell(self) -> None:
        if self._raw is None and not self._formula:
            return
        column = _column_index(self._ref) if self._ref else len(self._cells)
        font, is_date = self._style_info(self._style)
        value = self._value(self._type, self._raw, is_date)
        self._cells.append((column, RawCell(value, font if isinstance(value, str) else None, self._formula)))

    def _style_info(self, style: str | None) -> tuple[str | None, bool]:
        """The font name and whether the number format is a date, for a cell style index (cached)."""
        found = self._styles.get(style)
        if found is None:
            index = int(style) if style and style.isdigit() else 0
            fonts = self.layout.fonts_by_style
            found = (fonts[index] if index < len(fonts) else None, index in self.layout.date_styles)
            self._styles[style] = found
        return found

    def _value(self, kind: str, raw: str | None, is_date: bool) -> object:
        if raw is None:
            return None
        if kind == "s":
            strings = self.layout.shared_strings
            index = int(raw) if raw.isdigit() else -1
            return strings[index] if 0 <= index < len(strings) else None
        if kind in ("str", "inlineStr", "e", "d"):
            return raw
        if kind == "b":
            return raw == "1"
        return self._number(raw, is_date)

    def _number(self, raw: str, is_date: bool) -> object:
        if raw.isdigit() and not is_date:
            return int(raw)
        try:
            number = float(raw)
        except ValueError:
            return raw
        if is_date:
            from openpyxl.utils.datetime import from_excel

            try:
                return from_excel(number, self.layout.epoch)
            except (ValueError, OverflowError):
                return number
        return number
