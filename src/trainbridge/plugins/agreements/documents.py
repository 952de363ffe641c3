"""Agreement documents: the versioned template registry, PDF rendering, and the document store.

Templates are Jinja2 files ``<template_id>/v<version>.j2``: the ones shipped in
``trainbridge/plugins/agreements/templates/`` and those in the folder named by
``templates_dir`` in ``[jobs.agreements]`` (which wins for the same id and version).
Each required clause is a ``{% block NAME %}`` (see ``rules.agreements.REQUIRED_CLAUSES``).

The rendered text is a small line format: ``# `` a title, ``## `` a heading, a blank line
between paragraphs. It becomes a PDF with a CJK TrueType font, rendered
deterministically (fixed creation date), so the same inputs give the same SHA-256.

Parsing a CJK font (tens of thousands of glyphs) is what a PDF costs; it is done once per
font and process: the font is cut down to the characters the agreements use
(:func:`prepare_font`, grown when new characters come), and each PDF embeds its own subset
of that, byte for byte the subset it would take from the whole font.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.resources
import importlib.util
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from trainbridge.core.errors import ConfigError
from trainbridge.rules.agreements import TemplateRejected, check_clauses, latest_version

PACKAGE = "trainbridge.plugins.agreements"
PACKAGE_TEMPLATES = "templates"
FONT_ENV = "TRAINBRIDGE_CJK_FONT"
#: Where a CJK TrueType font is looked for: the PyPI package first, then Debian's packages.
FONT_PACKAGE = ("paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc")
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
_FILE = re.compile(r"^v(?P<version>[0-9A-Za-z.\-_]+)\.j2$")


def _cn_date(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def _money(value: Any) -> str:
    return format(Decimal(str(value)).quantize(Decimal("0.01")), ",f")


@functools.cache
def _environment() -> SandboxedEnvironment:
    # Templates are operators' text, but a sandbox costs nothing and keeps them to text.
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["cn_date"] = _cn_date
    env.filters["money"] = _money
    return env


@dataclass(frozen=True)
class AgreementTemplate:
    template_id: str
    version: str
    source: str
    origin: str
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"{self.template_id} v{self.version}"

    def render(self, context: Mapping[str, Any]) -> str:
        if self.problem:
            raise TemplateRejected(self.problem, hint=f"fix {self.origin}")
        try:
            return _compiled(self.source).render(**context)
        except TemplateError as exc:
            msg = f"agreement template {self.label} failed to render: {exc}"
            raise ConfigError(msg, file=self.origin, hint="check the variables the template uses "
                              "against docs/agreements.md") from None


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> Template:
    return _environment().from_string(source)


def clause_blocks(source: str) -> dict[str, bool]:
    """Block name -> whether the block has any text or expression in it."""
    tree = _environment().parse(source)
    found: dict[str, bool] = {}
    for block in tree.find_all(nodes.Block):
        found[block.name] = _has_text(block)
    return found


def _has_text(block: nodes.Block) -> bool:
    for output in block.find_all(nodes.Output):
        for node in output.nodes:
            if not isinstance(node, nodes.TemplateData) or node.data.strip():
                return True
    return False


def parse_template(template_id: str, version: str, source: str, origin: str) -> AgreementTemplate:
    """A template, with ``problem`` set when it is not valid Jinja2 or lacks a clause."""
    problem = None
    try:
        check_clauses(template_id, version, clause_blocks(source))
    except TemplateRejected as exc:
        problem = exc.message
    except TemplateError as exc:
        problem = f"agreement template {template_id} v{version} is not valid Jinja2: {exc}"
    return AgreementTemplate(template_id, version, source, origin, problem)


@dataclass
class TemplateRegistry:
    templates: dict[tuple[str, str], AgreementTemplate] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> TemplateRegistry:
        registry = cls()
        package = importlib.resources.files(PACKAGE) / PACKAGE_TEMPLATES
        shipped = f"{PACKAGE.replace('.', '/')}/{PACKAGE_TEMPLATES}"
        for folder in package.iterdir():
            if folder.is_dir():
                for item in folder.iterdir():
                    registry._add(folder.name, item.name, item.read_text(encoding="utf-8"),
                                  f"{shipped}/{folder.name}/{item.name}")
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise ConfigError(f"templates folder {extra_dir} not found", table="jobs.agreements",
                                  key="templates_dir", hint="create it or fix the path "
                                  "(relative to plugins.toml)")
            for path in sorted(extra_dir.glob("*/v*.j2")):
                registry._add(path.parent.name, path.name, path.read_text(encoding="utf-8"), str(path))
        return registry

    def _add(self, template_id: str, filename: str, source: str, origin: str) -> None:
        match = _FILE.match(filename)
        if match:
            version = match.group("version")
            self.templates[(template_id, version)] = parse_template(template_id, version, source, origin)

    def versions(self, template_id: str) -> list[str]:
        return [v for (t, v) in self.templates if t == template_id]

    def get(self, template_id: str, version: str | None = None) -> AgreementTemplate:
        """The named version, or the latest one; raises ConfigError when absent."""
        chosen = version or latest_version(self.versions(template_id))
        template = self.templates.get((template_id, chosen or ""))
        if template is None:
            known = ", ".join(sorted(f"{t} v{v}" for t, v in self.templates)) or "(none)"
            what = f"{template_id} v{version}" if version else template_id
            raise ConfigError(f"no agreement template {what}", table="jobs.agreements",
                              hint=f"known templates: {known}; add <templates_dir>/{template_id}/v1.j2")
        return template


# --- PDF ------------------------------------------------------------------------------


def find_font(configured: str | None = None) -> Path:
    """A TrueType font with Chinese glyphs: configured, $TRAINBRIDGE_CJK_FONT, package, system."""
    candidates: list[Path] = []
    for value in (configured, os.environ.get(FONT_ENV)):
        if value:
            path = Path(value)
            if not path.exists():
                raise ConfigError(f"font {path} not found", table="jobs.agreements", key="font",
                                  hint="point it at a .ttf/.ttc with Chinese glyphs")
            return path
    spec = importlib.util.find_spec(FONT_PACKAGE[0])
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / FONT_PACKAGE[1] for p in spec.submodule_search_locations]
    candidates += [Path(p) for p in SYSTEM_FONTS]
    for path in candidates:
        if path.exists():
            return path
    raise ConfigError("no font with Chinese glyphs found for agreement PDFs", table="jobs.agreements",
                      key="font", hint="pip install paperang-p2-fonts-cjk (WenQuanYi Micro Hei), or "
                      "apt-get install fonts-wqy-microhei, or set font = \"/path/to/font.ttf\"")


def render_pdf(text: str, *, font: Path, title: str, created: date) -> bytes:
    """The agreement text as an A4 PDF; the same text, font and date give the same bytes."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime(created.year, created.month, created.day, tzinfo=UTC))
    pdf.set_title(title)
    pdf.set_creator("trainbridge")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 18, 20)
    pdf.add_font("cjk", "", str(FONTS.covering(font, [text])))
    pdf.add_page()
    for block in _blocks(text):
        if block.startswith("# "):
            pdf.set_font("cjk", size=17)
            pdf.multi_cell(0, 10, block[2:].strip(), align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif block.startswith("## "):
            pdf.ln(2)
            pdf.set_font("cjk", size=13)
            pdf.multi_cell(0, 8, block[3:].strip(), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("cjk", size=10.5)
            pdf.multi_cell(0, 6.5, block, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())


def prepare_font(font: Path, texts: Iterable[str]) -> None:
    """Make the working copy of ``font`` cover every character of ``texts`` (one parse for a batch)."""
    FONTS.covering(font, texts)


#: Characters every working font has, whatever the first texts were.
_BASE_CHARS = frozenset(map(chr, (0, 13, *range(32, 127)))) | frozenset("，。、；：？！“”‘’（）《》【】—…·￥")
_BBOX = ("xMin", "yMin", "xMax", "yMax")


class FontCache:
    """Per process: each font cut down to the characters seen so far, as a small file.

    fpdf2 parses the font it is given for every PDF, and parsing a whole CJK font is what a
    PDF used to cost (about 0.3 s). The working copy keeps the whole font's glyphs (same
    order, names, hinting) for the characters seen and its whole-font bounding box, so each
    PDF embeds the very subset, and has the very bytes, it would have from the whole font.
    Files live in a private temporary folder removed at exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fonts: dict[tuple[str, int, int], tuple[frozenset[str], Path]] = {}
        self._folder: Path | None = None
        self._made = 0

    def covering(self, font: Path, texts: Iterable[str]) -> Path:
        wanted = frozenset().union(*map(set, texts))
        stat = font.stat()
        key = (str(font.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            known = self._fonts.get(key)
            if known is not None and wanted <= known[0]:
                return known[1]
            chars = wanted | _BASE_CHARS | (known[0] if known else frozenset())
            path = self._cut(font, chars)
            self._fonts[key] = (chars, path)
            return path

    def _cut(self, font: Path, chars: frozenset[str]) -> Path:
        from fontTools import subset, ttLib

        source = ttLib.TTFont(str(font), recalcTimestamp=False, fontNumber=0, lazy=True)
        head = source["head"]
        bbox = [getattr(head, name) for name in _BBOX]
        options = subset.Options(
            glyph_names=True, notdef_glyph=True, notdef_outline=True, recommended_glyphs=True,
            hinting=True, legacy_kern=True, name_IDs=["*"], name_languages=["*"], name_legacy=True,
            layout_features=["*"], drop_tables=[], passthrough_tables=True, prune_unicode_ranges=False)
        # Every code point of the glyphs wanted (a glyph may serve several, e.g. a radical and its
        # ideograph): a subset of the whole font by glyph keeps them all in its cmap.
        cmap = source.getBestCmap()
        glyphs = {cmap[ord(c)] for c in chars if ord(c) in cmap}
        cutter = subset.Subsetter(options)
        cutter.populate(unicodes=sorted({*map(ord, chars), *(u for u, g in cmap.items() if g in glyphs)}))
        cutter.subset(source)
        for name, value in zip(_BBOX, bbox, strict=True):  # fpdf2 reads the font's box from head
            setattr(head, name, value)
        source.recalcBBoxes = False
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="trainbridge-fonts-"))
            atexit.register(shutil.rmtree, self._folder, ignore_errors=True)
        self._made += 1
        path = self._folder / f"{self._made}-{font.stem}.ttf"
        source.save(str(path))
        return path


FONTS = FontCache()


def _blocks(text: str) -> list[str]:
    """Paragraphs (lines joined) and headings (one line each) of the rendered text."""
    blocks: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            if current:
                blocks.append("\n".join(current))
                current = []
            blocks.append(line)
        elif not line:
            if current:
                blocks.append("\n".join(current))
                current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


# --- the document store -------------------------------------------------------------


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def safe_name(agreement_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", agreement_id)


@dataclass(frozen=True)
class DocumentStore:
    """PDFs by agreement and digest: ``<root>/<agreement>/<kind>-<sha256>.pdf``, written once.

    Agreements are personal data: folders are 0700 and files 0600.
    """

    root: Path

    def path(self, agreement_id: str, kind: str, digest: str) -> Path:
        return self.root / safe_name(agreement_id) / f"{kind}-{digest}.pdf"

    def put(self, agreement_id: str, kind: str, content: bytes) -> Path:
        """Keep ``content``; a second put of the same content rewrites nothing."""
        path = self.path(agreement_id, kind, sha256_hex(content))
        if path.exists() and sha256_hex(path.read_bytes()) == path.stem.split("-", 1)[1]:
            return path
        for folder in (self.root, path.parent):
            if not folder.is_dir():
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                folder.chmod(0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def get(self, agreement_id: str, kind: str, digest: str) -> bytes | None:
        """The kept document, or None when it is missing or no longer has ``digest``."""
        path = self.path(agreement_id, kind, digest)
        if not path.exists():
            return None
        content = path.read_bytes()
        return content if sha256_hex(content) == digest else None
