"""The HR console and webhook receiver (``trainbridge serve``; needs the ``serve`` extra).

Imported lazily: the ``web`` ledger migration (``accounts``) must load without Starlette.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WebSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from trainbridge.web import app

        return getattr(app, name)
    raise AttributeError(name)
