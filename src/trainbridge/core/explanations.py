"""A decision's explanation as data: rule, article (or seed sentence), inputs, amount.

Every job stores, beside its text lines, ``payload["explanation_items"]``: a list of
:meth:`ExplanationItem.as_json` dicts, so a console renders each step in Chinese or English
and an auditor checks it without parsing prose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trainbridge.core.money import CENT


@dataclass(frozen=True)
class ExplanationItem:
    """One step of an explanation as data: which rule, under which article, from what, for how much.

    The text lines say the same in English; these let a console render the step in any
    language and an auditor check it without parsing prose. ``inputs`` are strings (amounts
    with two decimals, exact fractions as ``a/b``). ``unit`` is empty for money (``amount`` in
    ``currency``, two decimals) or names what else the amount counts: ``points``, ``percent``,
    ``coefficient``.
    """

    rule: str
    article: str
    inputs: Mapping[str, Any]
    amount: Decimal | None = None
    currency: str = ""
    unit: str = ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule, "article": self.article, "inputs": dict(self.inputs),
                                "amount": _amount(self.amount, self.unit), "currency": self.currency}
        if self.unit:
            data["unit"] = self.unit
        return data


def explanation_items(items: Iterable[ExplanationItem]) -> list[dict[str, Any]]:
    """``payload["explanation_items"]``: the items as JSON, in order."""
    return [item.as_json() for item in items]


def _amount(value: Decimal | int | None, unit: str) -> str | None:
    if value is None:
        return None
    if not unit:
        return format(Decimal(value).quantize(CENT), "f")
    return format(Decimal(value).normalize(), "f")
