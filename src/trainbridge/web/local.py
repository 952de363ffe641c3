"""Local formats for one reader: the language and the tenant's time zone.

``Local`` is handed to every template as ``loc``: ``loc.money(amount, "CNY")`` gives
¥17,000.00, ``loc.when(dt)`` 2026年12月5日 13:24 (5 Dec 2026 13:24 CST), ``loc.word("kind", k)``
a proposal kind in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from trainbridge.core import words

SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "US$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ZH_DIGITS = "零一二三四五六七八九"
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
HALF = re.compile(r"^(\d{4})H([12])$")

def zh_number(n: int) -> str:
    """1..99 in Chinese numerals (22 -> 二十二); larger numbers stay digits."""
    if n < 10:
        return ZH_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else ZH_DIGITS[tens]) + "十" + (ZH_DIGITS[ones] if ones else "")
    return str(n)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Local:
    lang: str
    zone: tzinfo = UTC

    @property
    def zh(self) -> bool:
        return self.lang == "zh"

    def text(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def word(self, table: str, value: Any) -> str:
        return words.word(table, value, self.lang)

    # --- numbers and money -----------------------------------------------------------

    def money(self, amount: Any, currency: str | None = "CNY") -> str:
        """¥17,000.00 (a currency without a symbol: 17,000.00 USD); '' for no amount."""
        value = _decimal(amount)
        if value is None:
            return ""
        sign = "-" if value < 0 else ""
        digits = f"{abs(value).quantize(Decimal('0.01')):,.2f}"
        code = (currency or "").upper()
        symbol = SYMBOLS.get(code)
        if symbol:
            return f"{sign}{symbol}{digits}"
        return f"{sign}{digits} {code}".strip()

    def number(self, value: Any) -> str:
        number = _decimal(value)
        if number is None:
            return "" if value is None else str(value)
        return f"{number.normalize():,f}" if number == number.to_integral() else f"{number:,f}"

    def rate(self, amount: Any, unit: str) -> str:
        """A rate adjustment as it reads: +5% for percent, ×1.10 or +0.10 for a coefficient."""
        value = _decimal(amount)
        if value is None:
            return ""
        sign = "+" if value >= 0 else "−"
        plain = f"{abs(value).normalize():f}"
        if unit == "percent":
            return f"{sign}{plain}%"
        if unit == "factor":
            return f"×{value:f}"
        return f"{sign}{abs(value):.2f}" if unit == "coefficient" else f"{sign}{plain}"

    def adjustment(self, amount: Any, unit: str | None, currency: str | None) -> str:
        """An amount with its unit: money with its symbol, or a rate."""
        if unit in (None, "", "money"):
            return self.money(amount, currency)
        return self.rate(amount, str(unit))

    # --- dates and times -------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the ledger stores UTC
        return moment.astimezone(self.zone)

    def when(self, moment: Any) -> str:
        """2026年12月5日 13:24 / 5 Dec 2026 13:24 CST: minutes, in the tenant's zone."""
        if moment in (None, ""):
            return ""
        if isinstance(moment, str):
            try:
                moment = datetime.fromisoformat(moment)
            except ValueError:
                return moment
        if not isinstance(moment, datetime):
            return self.day(moment)
        t = self.local(moment)
        if self.zh:
            return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
        zone = t.tzname() or ""
        if zone and (zone[0] in "+-" or (zone == "UTC" and self.zone is not UTC)):
            zone = f"UTC{t:%z}"[:-2] + ":" + f"{t:%z}"[-2:]
        return f"{t.day} {MONTHS_EN[t.month - 1]} {t.year} {t:%H:%M} {zone}".strip()

    def day(self, value: Any) -> str:
        """2026年11月22日 / 22 Nov 2026."""
        if value in (None, ""):
            return ""
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return value
        if isinstance(value, datetime):
            value = self.local(value).date()
        if not isinstance(value, date):
            return str(value)
        if self.zh:
            return f"{value.year}年{value.month}月{value.day}日"
        return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"

    def period(self, key: Any) -> str:
        """2026Q3 -> 2026年第三季度 / Q3 2026; 2026-11 -> 2026年11月; 2026 -> 2026年."""
        text = str(key or "")
        if m := QUARTER.match(text):
            q = int(m[2])
            return f"{m[1]}年第{zh_number(q)}季度" if self.zh else f"Q{q} {m[1]}"
        if m := HALF.match(text):
            h = int(m[2])
            return f"{m[1]}年{'上' if h == 1 else '下'}半年" if self.zh else f"H{h} {m[1]}"
        if m := MONTH.match(text):
            return f"{m[1]}年{int(m[2])}月" if self.zh else f"{MONTHS_EN[int(m[2]) - 1]} {m[1]}"
        if re.fullmatch(r"\d{4}", text):
            return f"{text}年" if self.zh else text
        return text

    # --- reasons -----------------------------------------------------------------------

    def field(self, name: str) -> str:
        return self.word("field", name)

    def quarantine_reason(self, reason: str) -> list[str]:
        """Each problem of a stored validation reason (``loc: msg; ...``) as a plain sentence."""
        return words.quarantine_sentences(reason, "zh" if self.zh else "en")

    def verdict(self, reason: str | None) -> str:
        """A decision reason written for a Feishu / DingTalk verdict, as a sentence in the reader's
        language ("已在飞书审批中通过（审批实例 X）"); "" for a reason someone typed."""
        from trainbridge.core.approvals.channel import parse_verdict_reason, verdict_sentence

        parsed = parse_verdict_reason(reason)
        return verdict_sentence(*parsed, "zh" if self.zh else "en") if parsed else ""

    def leaderboard_note(self, note: str) -> str:
        """The visibility rule the leaderboard applied, in the reader's language."""
        if note in ("self", "department"):
            return self.text("只显示您自己的姓名" if note == "self" else "只显示本部门的姓名",
                             "names shown: your own only" if note == "self"
                             else "names shown: your department's")
        where_m = re.search(r"(the company|department (.+?))(?:, of (\d+))?$", note)
        where = ""
        if where_m:
            where = self.text("全公司", "the company") if where_m[1] == "the company" else \
                self.text(f"部门 {where_m[2]}", f"department {where_m[2]}")
        if note.startswith("named"):
            return self.text(f"显示姓名，范围：{where}", f"named, {where}")
        if note.startswith("anonymous"):
            return self.text(f"匿名（仅显示您自己的一行），范围：{where}",
                             f"anonymous except your own row, {where}")
        if note.startswith("you are not on"):
            return self.text(f"您不在{where}的排行中", f"you are not on the leaderboard of {where}")
        m = re.match(r"your rank with (\d+) neighbour", note)
        if m:
            return self.text(f"显示您的名次及前后各 {m[1]} 名，范围：{where}",
                             f"your rank with {m[1]} either side, {where}")
        return note
