"""Agreement documents: the versioned template registry, PDF rendering, and the document store.

Templates are Jinja2 files ``<template_id>/v<version>.j2``: the ones shipped in
``trainbridge/plugins/agreement_templates/`` and those in the folder named by
``templates_dir`` in ``[jobs.agreements]`` (which wins for the same id and version).
Each required clause is a ``{% block NAME %}`` (see ``rules.agreements.REQUIRED_CLAUSES``).

The rendered text is a small line format: ``# `` a title, ``## `` a heading, a blank line
between paragraphs. It becomes a PDF with a CJK TrueType font, rendered
deterministically (fixed creation date), so the same inputs give the same SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from trainbridge.core.errors import ConfigError
from trainbridge.rules.agreements import TemplateRejected, check_clauses, latest_version

PACKAGE_TEMPLATES = "agreement_templates"
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
            return _environment().from_string(self.source).render(**context)
        except TemplateError as exc:
            msg = f"agreement template {self.label} failed to render: {exc}"
            raise ConfigError(msg, file=self.origin, hint="check the variables the template uses "
                              "against docs/agreements.md") from None


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
        package = importlib.resources.files("trainbridge.plugins") / PACKAGE_TEMPLATES
        for folder in package.iterdir():
            if folder.is_dir():
                for item in folder.iterdir():
                    registry._add(folder.name, item.name, item.read_text(encoding="utf-8"),
                                  f"trainbridge/plugins/{PACKAGE_TEMPLATES}/{folder.name}/{item.name}")
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
    pdf.add_font("cjk", "", str(font))
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
    """PDFs by agreement and digest: ``<root>/<agreement>/<kind>-<sha256>.pdf``, written once."""

    root: Path

    def path(self, agreement_id: str, kind: str, digest: str) -> Path:
        return self.root / safe_name(agreement_id) / f"{kind}-{digest}.pdf"

    def put(self, agreement_id: str, kind: str, content: bytes) -> Path:
        path = self.path(agreement_id, kind, sha256_hex(content))
        if path.exists() and sha256_hex(path.read_bytes()) == path.stem.split("-", 1)[1]:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        return path

    def get(self, agreement_id: str, kind: str, digest: str) -> bytes | None:
        path = self.path(agreement_id, kind, digest)
        return path.read_bytes() if path.exists() else None
