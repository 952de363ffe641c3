"""e签宝 (esign.cn): ``esign_cn`` sign flows (open platform v3) and ``esign_cn_evidence`` deposits.

``signing`` holds the request and callback signatures, ``client`` the signed v3 client,
``flows`` the e-signature connector and ``evidence`` the scene-based evidence connector
(its own host and project credentials). See docs/connectors/esign_cn.md and
docs/connectors/esign_cn_evidence.md.
"""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.esign_cn.evidence import EsignEvidenceConnector
from trainbridge.connectors.esign_cn.flows import EsignConnector


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("esign_cn", EsignConnector)
    register("esign_cn_evidence", EsignEvidenceConnector)


__all__ = ["EsignConnector", "EsignEvidenceConnector", "register_connectors"]
