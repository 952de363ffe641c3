"""A generic REST source (``rest``): an in-house system wired in plugins.toml, without Python.

One endpoint table per record kind says where the records are (``path``, ``params``, the
``records`` path in the JSON answer), how to page (page number, offset, cursor, ``Link``
header or next URL), how to read incrementally (a query parameter fed with the largest value
of a record field seen last time) and how vendor fields become record fields (dotted paths,
constants, templates, value maps, date/number parsing). Record ids are
``make_id(instance, vendor key)``; a vendor record that cannot be mapped or validated is
rejected to quarantine with the reason, and the rest of the page goes on.
"""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.rest.config import KINDS, Endpoint, FieldSpec, RestConfig
from trainbridge.connectors.rest.connector import RestConnector


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("rest", RestConnector)


__all__ = ["KINDS", "Endpoint", "FieldSpec", "RestConfig", "RestConnector", "register_connectors"]
