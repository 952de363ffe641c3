"""``fadada``: 法大大 FASC OpenAPI 5.1 (see :mod:`.connector` and docs/connectors/fadada.md).

``trainbridge.connectors.fadada`` stays the module the core loads (``register_connectors``)
and the import path of the connector and its signature helpers.
"""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.fadada.agreements import FadadaArchive
from trainbridge.connectors.fadada.client import TOKEN_INVALID, FascApi, TokenExpired
from trainbridge.connectors.fadada.config import EVENT_STATUS, TASK_STATUS, FadadaConfig
from trainbridge.connectors.fadada.connector import FadadaConnector
from trainbridge.connectors.fadada.signing import (
    PRODUCTION_URL,
    UAT_URL,
    FascAuth,
    fasc_sign,
    sign_string,
)


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("fadada", FadadaConnector)


__all__ = ["EVENT_STATUS", "PRODUCTION_URL", "TASK_STATUS", "TOKEN_INVALID", "UAT_URL", "FadadaArchive",
           "FadadaConfig", "FadadaConnector", "FascApi", "FascAuth", "TokenExpired", "fasc_sign",
           "register_connectors", "sign_string"]
