"""``docusign``: DocuSign eSignature REST API v2.1 (see :mod:`.connector` and docs/connectors/docusign.md).

``trainbridge.connectors.docusign`` stays the module the core loads (``register_connectors``)
and the import path of the connector and its helpers.
"""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.docusign.agreements import DocusignArchive, custom_fields
from trainbridge.connectors.docusign.client import DocusignApi, rs256_jwt
from trainbridge.connectors.docusign.config import (
    AGREEMENT_FIELD,
    DEMO_URI,
    ENVELOPE_STATUS,
    EVENT_STATUS,
    KEY_FIELD,
    PRODUCTION_URI,
    DocusignConfig,
)
from trainbridge.connectors.docusign.connector import DocusignConnector, agreement_key
from trainbridge.connectors.docusign.webhooks import connect_signature


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("docusign", DocusignConnector)


__all__ = ["AGREEMENT_FIELD", "DEMO_URI", "ENVELOPE_STATUS", "EVENT_STATUS", "KEY_FIELD", "PRODUCTION_URI",
           "DocusignApi", "DocusignArchive", "DocusignConfig", "DocusignConnector", "agreement_key",
           "connect_signature", "custom_fields", "register_connectors", "rs256_jwt"]
