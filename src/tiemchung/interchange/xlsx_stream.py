"""Streaming the cells of a workbook's first worksheet with expat: fast, and memory bounded by one chunk of XML.

openpyxl still reads the workbook's structure (which part is the first sheet, the 1904 date system, the
stylesheet: fonts and date formats), but its read-only cell reader builds an ElementTree element per XML node and
costs about 60 µs a cell on this machine, while the 100,000-row target needs a few µs: the sheet XML is therefore
read here with raw expat callbacks. It also avoids openpyxl's dimension scan, which reads a whole sheet when the
`<dimension>` element is missing (workbooks written by openpyxl's write-only mode).
"""

import mmap
import tempfile
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.parsers import expat

from tiemchung.interchange.sources import EMPTY_CELL, RawCell

CHUNK_BYTES = 256 * 1024
# Excel's limit of characters a cell; a longer shared string is cut one character past it (the row stays rejected).
MAX_STRING_CHARS = 32_767
# More strings than a full sheet of the format could use (1,048,576 rows x 32 columns): not a workbook Excel wrote.
MAX_SHARED_STRINGS = 1_048_576 * 32
DIGITS = "0123456789"


@dataclass(frozen=True, slots=True)
class WorkbookLayout:
    sheet_part: str
    shared_strings: "SharedStrings"
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


class SharedStrings:
    """A workbook's shared-string table kept in a temporary file, found by offset: memory is 4 bytes a string.

    A 5 MB workbook may declare a sharedStrings part of 1,000 MB (it compresses 200x, under the bomb checks): held
    as Python strings it took gigabytes. Each string is also cut at Excel's cell limit (plus one character, so
    that the row is still rejected as too long): one huge <si> cannot fill memory either. Hand-written because
    openpyxl's own reader keeps the whole table as a list.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="tiemchung-strings-")  # noqa: SIM115 (closed by close())
        self._offsets = array("I", [0])
        self._map: mmap.mmap | None = None

    def append(self, text: str) -> None:
        if len(self._offsets) > MAX_SHARED_STRINGS:
            raise ValueError("too many shared strings")
        data = text.encode("utf-8", "surrogatepass")
        self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))

    def seal(self) -> "SharedStrings":
        self._file.flush()
        if self._offsets[-1]:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index: int) -> str:
        start, end = self._offsets[index], self._offsets[index + 1]
        return "" if self._map is None else self._map[start:end].decode("utf-8", "surrogatepass")

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        self._file.close()


def _shared_strings(archive: zipfile.ZipFile) -> SharedStrings:
    """The shared-string table: each <si> is its <t> texts joined (rich-text runs), phonetic runs left out."""
    strings = SharedStrings()
    parts: list[str] = []
    state = {"in_t": False, "skip": 0, "length": 0}

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
            state["length"] = 0
        elif name == "rPh":
            state["skip"] -= 1
        elif name == "t":
            state["in_t"] = False

    def text(data: str) -> None:
        if state["in_t"] and state["length"] <= MAX_STRING_CHARS:
            parts.append(data[: MAX_STRING_CHARS + 1 - state["length"]])
            state["length"] += len(parts[-1])

    if "xl/sharedStrings.xml" not in archive.namelist():
        return strings.seal()
    parser = _parser(start, end, text)
    with archive.open("xl/sharedStrings.xml") as source:
        while chunk := source.read(CHUNK_BYTES):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return strings.seal()


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
