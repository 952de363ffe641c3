"""What a reader sees of a page: its text (and placeholders, titles), without scripts, styles or markup.

Used by the untranslated-words test: every ASCII word of three or more letters a zh page
shows must be a name, an id or on an explicit allow-list.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: elements whose text nobody reads on the page (an SVG chart's <title> is its tooltip: read).
SKIPPED = {"script", "style", "head", "noscript"}
#: elements that hold code (a config key, a command), not words.
CODE = {"code", "kbd", "samp"}
#: attributes a reader sees.
SHOWN_ATTRIBUTES = ("placeholder", "title", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Visible(HTMLParser):
    """Collects the text; ``class="id"`` (ids by design), ``class="typed"`` (what a person or vendor
    typed: a reason, an audit value), ``lang="en"`` subtrees (English marked
    as English: a job's original lines) and code (``<code>``) are left out when ``skip_marked``."""

    def __init__(self, skip_marked: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []
        self.skip_marked = skip_marked

    def _skipping(self) -> bool:
        return any(tag in SKIPPED or skipped for tag, skipped in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        marked = self.skip_marked and (
            values.get("lang") == "en" or tag in CODE
            or bool({"id", "typed"} & set((values.get("class") or "").split())))
        if not self._skipping() and not marked:
            for name, value in attrs:
                if name in SHOWN_ATTRIBUTES and value:
                    self.parts.append(value)
        if tag not in VOID:
            self.stack.append((tag, marked))

    def handle_endtag(self, tag: str) -> None:
        if any(t == tag for t, _ in self.stack):
            while self.stack and self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.parts.append(data)


def visible_text(html: str, *, skip_marked: bool = True) -> str:
    """The page's readable text; ``skip_marked`` leaves out ``class="id"`` and ``lang="en"`` elements."""
    parser = _Visible(skip_marked)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


#: a token with a digit, a colon, an underscore, a dot inside, or in capitals and hyphens is an id
#: (E003, 2026Q3, finance:FEE-E003, FIRE-CTRL, ACME-SH, a SHA-256 prefix), not a word.
_ID = re.compile(r"^(?=.*[\d:_./@])[\w:./@-]+$|^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
_WORD = re.compile(r"[A-Za-z]{3,}")


def latin_words(text: str, allowed: set[str]) -> list[str]:
    """The ASCII words of 3+ letters in ``text`` that are neither ids nor ``allowed`` (case-insensitive)."""
    found: list[str] = []
    lowered = {a.lower() for a in allowed}
    for token in re.split(r"[\s,;()\[\]{}<>«»“”\"'，。；：（）、《》·|=+×]+", text):
        token = token.strip(".!?…")
        if not token or _ID.match(token):
            continue
        for word in _WORD.findall(token):
            if word.lower() not in lowered:
                found.append(word)
    return found
