"""Reports: one result shape, rendered as a terminal table, JSON, CSV or one self-contained HTML file.

A plugin registers a :class:`Report` through ``register_reports``; the command line
turns it into ``trainbridge report NAME`` with the report's own options and
``--format table|json|csv|html``.

A report of a hundred thousand lines need not hold them: its ``rows`` may be
:class:`LazyRows` (made again each time they are read), and :func:`write` streams json, csv
and html to a file row by row, the same text as :func:`render` gives.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, TextIO, overload

FORMATS = ("table", "json", "csv", "html")


@dataclass
class Chart:
    """A bar chart drawn as inline SVG in the html output (no JavaScript, no network)."""

    title: str
    labels: Sequence[str]
    values: Sequence[Decimal | int]
    target: Sequence[Decimal | int] | None = None
    unit: str = ""
    #: the word before a target's value in its tooltip (the console puts it in the reader's language).
    target_label: str = "target"


class Note(str):
    """A note's English sentence (what the command line prints) that also keeps its rule id and
    values, so the console can say the same in the reader's language (``web/report_text.RULES``).
    Everywhere else it is just the string."""

    rule: str
    values: dict[str, Any]

    def __new__(cls, text: str, rule: str, **values: Any) -> Note:
        note = super().__new__(cls, text)
        note.rule, note.values = rule, values
        return note


class LazyRows(Sequence[Sequence[Any]]):
    """A report's rows made as they are read: ``make()`` gives them in order, the same every time,
    ``count`` of them. Iterating holds one row at a time; indexing makes the rows up to it."""

    def __init__(self, count: int, make: Callable[[], Iterator[Sequence[Any]]]) -> None:
        self._count, self._make = count, make

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Sequence[Any]]:
        return self._make()

    def __eq__(self, other: object) -> bool:
        """Equal to the list of the same rows (as a report built whole would have them)."""
        if isinstance(other, LazyRows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyRows({list(self)!r})"

    @overload
    def __getitem__(self, index: int) -> Sequence[Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Sequence[Any]]: ...

    def __getitem__(self, index: int | slice) -> Sequence[Any] | Sequence[Sequence[Any]]:
        if isinstance(index, slice):
            return list(self)[index]
        n = index + self._count if index < 0 else index
        if not 0 <= n < self._count:
            raise IndexError(index)
        for k, row in enumerate(self):
            if k == n:
                return row
        raise IndexError(index)


@dataclass
class ReportResult:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    notes: Sequence[str] = ()
    charts: Sequence[Chart] = ()
    sections: Sequence[ReportResult] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    name: str
    title: str
    build: Callable[..., ReportResult]
    #: click options (``click.Option`` objects) the command takes besides --format.
    options: Sequence[Any] = ()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _row_as_dict(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    return {c: _json_value(v) for c, v in zip(columns, row, strict=False)}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | str | bool | type(None) | list | dict):
        return value
    return str(value)


def _json_at(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it ``level`` levels deep in a larger document."""
    return json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n" + "  " * level)


def _json_row(row: dict[str, Any], level: int) -> str:
    """A row object as :func:`_json_at` writes it, its plain values without the pure-Python encoder
    (``json.dumps`` with ``indent`` takes it: most of the time of a large report)."""
    if not row or not all(isinstance(k, str) for k in row):
        return _json_at(row, level)
    pad = "\n" + "  " * (level + 1)
    parts = []
    for k, v in row.items():
        if isinstance(v, str):
            text = encode_basestring(v)
        elif v is None:
            text = "null"
        elif v is True or v is False:
            text = "true" if v else "false"
        elif isinstance(v, int):
            text = int.__repr__(v)
        else:
            text = _json_at(v, level + 1)
        parts.append(f"{pad}{encode_basestring(k)}: {text}")
    return "{" + ",".join(parts) + "\n" + "  " * level + "}"


def _write_json(r: ReportResult, out: TextIO, level: int = 0) -> None:
    """``r`` as ``json.dumps({"title", "columns", "rows", "notes", "data"?, "sections"?}, indent=2)``
    writes it, ``level`` levels deep, a row at a time (each row an object of its columns)."""
    pad = "  " * (level + 1)

    def key(name: str, first: bool = False) -> None:
        out.write(("" if first else ",") + f"\n{pad}\"{name}\": ")

    key("title", first=True)
    out.write(_json_at(r.title, level + 1))
    key("columns")
    out.write(_json_at(list(r.columns), level + 1))
    key("rows")
    empty = True
    for row in r.rows:
        out.write(("[" if empty else ",") + f"\n{pad}  " + _json_row(_row_as_dict(r.columns, row), level + 2))
        empty = False
    out.write("[]" if empty else f"\n{pad}]")
    key("notes")
    out.write(_json_at(list(r.notes), level + 1))
    if r.data:
        key("data")
        out.write(_json_at(json.loads(json.dumps(r.data, default=_json_value)), level + 1))
    if r.sections:
        key("sections")
        out.write("[")
        for n, section in enumerate(r.sections):
            out.write(("" if n == 0 else ",") + f"\n{pad}  {{")
            _write_json(section, out, level + 2)
        out.write(f"\n{pad}]")
    out.write("\n" + "  " * level + "}")


def to_json(result: ReportResult) -> str:
    out = io.StringIO()
    write(result, "json", out)
    return out.getvalue()


#: a cell starting with one of these is a formula to Excel, LibreOffice and Sheets (OWASP
#: "CSV injection"), full-width forms included; HR data must never run as one.
_FORMULA_START = tuple("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell that a spreadsheet shows as text: a leading formula character
    gets a ``'`` in front (plain numbers, ``-12.50``, stay numbers)."""
    text = _cell(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _write_csv(result: ReportResult, out: TextIO) -> None:
    writer = csv.writer(out)
    for part in [result, *result.sections]:
        if part is not result:
            writer.writerow([])
            writer.writerow([f"# {csv_cell(part.title)}"])
        writer.writerow([csv_cell(c) for c in part.columns])
        for row in part.rows:
            writer.writerow([csv_cell(v) for v in row])


def to_csv(result: ReportResult) -> str:
    out = io.StringIO()
    write(result, "csv", out)
    return out.getvalue()


def to_table(result: ReportResult) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=140, file=io.StringIO())
    for part in [result, *result.sections]:
        table = Table(title=part.title)
        for column in part.columns:
            table.add_column(str(column))
        for row in part.rows:
            table.add_row(*[_cell(v) for v in row])
        console.print(table)
        for note in part.notes:
            console.print(note, markup=False)
    return console.export_text()


def text_width(text: str, size: int = 12) -> int:
    """About how many pixels ``text`` takes at ``size``: a CJK or full-width character is a
    square (one em), a digit or a Latin letter a bit over half of one."""
    import unicodedata

    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))
    return int((wide + (len(text) - wide) * 0.62) * size) + 2


def _wrap(text: str, width: int, size: int) -> list[str]:
    """``text`` in lines of at most ``width`` pixels (at word breaks where it has spaces)."""
    lines: list[str] = []
    current = ""
    for token in re.findall(r"\S+\s*|\s+", text) if " " in text else list(text):
        if current and text_width(current + token.rstrip(), size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
            while text_width(current, size) > width and len(current) > 1:  # a word longer than a line
                cut = max(1, len(current) * width // max(text_width(current, size), 1))
                lines.append(current[:cut])
                current = current[cut:]
        else:
            current += token
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return lines


def svg_bars(chart: Chart) -> str:
    """Horizontal bars; the label column is as wide as the longest label (up to 260 px, longer
    labels wrap onto more lines) and the value text fits to the right of the longest bar."""
    size, bar_h, gap, line_h = 12, 22, 8, 15
    values = [Decimal(v) for v in chart.values]
    targets = [Decimal(v) for v in chart.target] if chart.target else []
    labels = [str(label) for label in chart.labels]
    label_w = min(260, max([text_width(x, size) for x in labels] + [40])) + 10
    texts = [f"{_cell(v)}{chart.unit}" for v in values]
    value_w = max([text_width(x, size) for x in texts] + [30]) + 8
    plot_w = 360
    width = label_w + plot_w + value_w
    top = max([*values, *targets, Decimal(1)])
    wrapped = [_wrap(x, label_w - 10, size) for x in labels]
    heights = [max(bar_h, len(lines) * line_h + 6) for lines in wrapped]
    height = sum(h + gap for h in heights) + 12
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" style="max-width:100%;height:auto" role="img" '
             f'aria-label="{html.escape(chart.title)}">']
    y = 6
    for i, (lines, value) in enumerate(zip(wrapped, values, strict=False)):
        row_h = heights[i]
        w = int(plot_w * value / top) if top else 0
        text_y = y + (row_h - len(lines) * line_h) // 2 + 11
        spans = "".join(f'<tspan x="0" y="{text_y + k * line_h}">{html.escape(line)}</tspan>'
                        for k, line in enumerate(lines))
        parts.append(f'<text font-size="{size}">{spans}<title>{html.escape(labels[i])}</title></text>')
        bar_y = y + (row_h - bar_h) // 2
        parts.append(f'<rect x="{label_w}" y="{bar_y}" width="{max(w, 0)}" height="{bar_h}" fill="#3b7dd8"/>')
        parts.append(f'<text x="{label_w + max(w, 0) + 4}" y="{bar_y + 15}" font-size="{size}">'
                     f'{html.escape(texts[i])}</text>')
        if targets:
            tx = label_w + int(plot_w * targets[i] / top)
            parts.append(f'<line x1="{tx}" x2="{tx}" y1="{bar_y - 2}" y2="{bar_y + bar_h + 2}" '
                         f'stroke="#d83b3b" stroke-width="2"><title>{html.escape(chart.target_label)} '
                         f'{_cell(targets[i])}</title>'
                         '</line>')
        y += row_h + gap
    parts.append("</svg>")
    return "".join(parts)


def _html_parts(r: ReportResult, level: int = 2) -> Iterator[str]:
    """A section's html, a piece at a time (the pieces are joined by newlines)."""
    yield f"<h{level}>{html.escape(r.title)}</h{level}>"
    for chart in r.charts:
        yield f"<figure><figcaption>{html.escape(chart.title)}</figcaption>{svg_bars(chart)}</figure>"
    yield ("<table><thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in r.columns)
           + "</tr></thead><tbody>")
    for row in r.rows:
        yield "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
    yield "</tbody></table>"
    for n in r.notes:
        yield f"<p class=note>{html.escape(n)}</p>"
    for s in r.sections:
        yield from _html_parts(s, level + 1)


def _write_html(result: ReportResult, out: TextIO, extra: Sequence[ReportResult] = ()) -> None:
    out.write("<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
              f"<title>{html.escape(result.title)}</title><style>"
              "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:2em;color:#222}"
              "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
              "text-align:left}th{background:#f2f4f7}.note{color:#555}</style></head><body>"
              f"<h1>{html.escape(result.title)}</h1>")
    first = True
    for r in [result, *extra]:
        for part in _html_parts(r):
            out.write(part if first else "\n" + part)
            first = False
    out.write("</body></html>")


def to_html(result: ReportResult, *, extra: Sequence[ReportResult] = ()) -> str:
    out = io.StringIO()
    _write_html(result, out, extra)
    return out.getvalue()


def render(result: ReportResult, fmt: str) -> str:
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    if fmt == "table":
        return to_table(result)
    out = io.StringIO()
    write(result, fmt, out)
    return out.getvalue()


def write(result: ReportResult, fmt: str, out: TextIO) -> None:
    """:func:`render` to ``out``, json, csv and html a row at a time (the same text): a report of a
    hundred thousand lines is written without its text, or its rows, held whole."""
    if fmt == "json":
        out.write("{")
        _write_json(result, out)
    elif fmt == "csv":
        _write_csv(result, out)
    elif fmt == "html":
        _write_html(result, out)
    else:
        out.write(render(result, fmt))


def bundle(ws: Any, reports: Sequence[Report], *, title: str = "trainbridge reports") -> str:
    """Every report with its default options in one self-contained html file (HR opens it
    from an email). A report that cannot run with defaults says why instead of failing all."""
    results: list[ReportResult] = []
    for rep in sorted(reports, key=lambda r: r.name):
        try:
            results.append(rep.build(ws))
        except Exception as exc:  # one report's failure must not lose the others
            results.append(ReportResult(rep.title, ["note"], [[f"not available: {exc}"]]))
    cover = ReportResult(title, ["report", "title"], [[r.name, r.title] for r in
                                                      sorted(reports, key=lambda r: r.name)])
    return to_html(cover, extra=results)
