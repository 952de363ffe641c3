"""Feishu People offboarding reasons -> :class:`SeparationReason`, through a table.

A Feishu tenant configures its own reason tree (离职配置 > 离职原因): each reason has an
``offboarding_reason_unique_identifier`` (``reason_for_offboarding_option8``, ...), names
in several languages and a parent (``POST /open-apis/corehr/v1/offboardings/query``).
Search results carry the reason as ``{"enum_name": <identifier>, "display": [...]}``.

A reason is looked up by its identifier, then its ancestors' identifiers, then by any of
its names; the first hit wins, so a specific child can override its parent. A reason
found nowhere is not guessed: the separation becomes a reject that names the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from trainbridge.core.records import SeparationReason as R

#: Defaults, merged under the operator's ``reasons`` table. ``voluntary`` is the top-level
#: identifier the search API documents (``"reasons": ["voluntary"]``); the names are the
#: statutory grounds of the PRC Labor Contract Law, matched exactly. Involuntary reasons
#: that are neither are left to the operator, because "for cause" and "no fault" differ
#: in law (LCL arts. 39 vs 40-41) and a name alone rarely says which.
DEFAULT_REASONS: dict[str, R] = {
    "voluntary": R.RESIGNATION,
    "主动离职": R.RESIGNATION,
    "合同到期不续签": R.CONTRACT_END,
    "合同到期": R.CONTRACT_END,
    "协商一致解除": R.MUTUAL_AGREEMENT,
    "协议解除": R.MUTUAL_AGREEMENT,
    "严重违法违纪": R.DISMISSAL_FOR_CAUSE,
    "严重违反规章制度": R.DISMISSAL_FOR_CAUSE,
    "经济性裁员": R.NO_FAULT_DISMISSAL,
    "不能胜任工作": R.NO_FAULT_DISMISSAL,
    "无法胜任工作": R.NO_FAULT_DISMISSAL,
    "退休": R.RETIREMENT,
    "身故": R.DEATH,
}


@dataclass
class ReasonCatalog:
    """The tenant's reason tree: identifier -> parent identifier and names."""

    parents: dict[str, str] = field(default_factory=dict)
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[Mapping[str, object]]) -> ReasonCatalog:
        catalog = cls()
        for item in items:
            key = str(item.get("offboarding_reason_unique_identifier") or "")
            if not key:
                continue
            parent = item.get("parent_offboarding_reason_unique_identifier")
            if parent:
                catalog.parents[key] = str(parent)
            catalog.names[key] = i18n_values(item.get("name"))
        return catalog

    def lineage(self, key: str) -> list[str]:
        chain, seen = [key], {key}
        while (parent := self.parents.get(chain[-1])) and parent not in seen:
            chain.append(parent)
            seen.add(parent)
        return chain


@dataclass
class ReasonTable:
    table: dict[str, R]

    @classmethod
    def build(cls, configured: Mapping[str, R], *, use_defaults: bool) -> ReasonTable:
        return cls({**(DEFAULT_REASONS if use_defaults else {}), **configured})

    def lookup(self, key: str, display: Iterable[str],
               catalog: ReasonCatalog | None = None) -> R | None:
        chain = catalog.lineage(key) if catalog else [key]
        for candidate in chain:
            if candidate in self.table:
                return self.table[candidate]
        names = list(display)
        if catalog:
            for candidate in chain:
                names.extend(catalog.names.get(candidate, ()))
        for name in names:
            if name in self.table:
                return self.table[name]
        return None


def i18n_values(value: object) -> tuple[str, ...]:
    """The ``value`` of each ``{"lang", "value"}`` entry, in order."""
    if not isinstance(value, list):
        return ()
    return tuple(str(v["value"]) for v in value if isinstance(v, dict) and v.get("value"))


def i18n_pick(value: object, language: str) -> str:
    """The text in ``language`` (e.g. ``zh-CN``), else the first one, else ''."""
    if not isinstance(value, list):
        return ""
    for entry in value:
        if isinstance(entry, dict) and entry.get("lang") == language and entry.get("value"):
            return str(entry["value"])
    values = i18n_values(value)
    return values[0] if values else ""
