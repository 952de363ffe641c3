"""What every e-signature connector does alike around its vendor's own calls.

A send the ledger already made (the agreement names this instance's envelope) answers with the
envelope's status instead of sending again; a send without signers is refused; an envelope is
downloaded only once completed; a create that failed in a way that may still have made the
envelope is not retried blindly (the next send's lookup finds it); a lookup returns the first
envelope that is not voided. The vendor's words (``envelope``, ``sign task``) stay in messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from trainbridge.core.connector import Connector
from trainbridge.core.errors import ConnectorError, ServerError, WebhookRejected
from trainbridge.core.records import Agreement, Envelope, EnvelopeStatus, Signer, make_id

T = TypeVar("T")


class Countersigned(Protocol):
    """A config naming HR's countersigner (both or neither, as its validator checks)."""

    countersigner_name: str | None
    countersigner_email: str | None


class SigningConnector(Connector):
    """The base of the e-signature connectors (``send_for_signature`` and its neighbours)."""

    #: What the vendor calls an envelope, in messages.
    envelope_noun: ClassVar[str] = "envelope"

    def signature_status(self, envelope_id: str) -> Envelope:  # each vendor's @hookimpl
        raise NotImplementedError

    def sent_before(self, agreement: Agreement, signers: Sequence[Signer],
                    lookup: Callable[[], Envelope | None] | None = None) -> Envelope | None:
        """The envelope already made for ``agreement``: the one the ledger names (a retried send),
        else the one ``lookup`` finds at the vendor (a lost answer); None: send it. A send without
        signers is an error."""
        if agreement.envelope_id and agreement.esign_instance == self.name:
            return self.signature_status(agreement.envelope_id)
        if not signers:
            raise ConnectorError("no signers given", instance=self.name,
                                 hint=f"agreement {agreement.id} needs at least the employee")
        existing = lookup() if lookup is not None else None
        if existing is not None:
            self.log.info("agreement %s already has %s %s", agreement.id, self.envelope_noun,
                          existing.envelope_id)
        return existing

    def envelope(self, envelope_id: str, *, agreement_id: str, status: EnvelopeStatus,
                 signers: Iterable[Signer] = (), completed_at: datetime | None = None) -> Envelope:
        """The vendor's envelope (request, task, flow) as this instance's ``Envelope`` record."""
        return Envelope(id=make_id(self.name, envelope_id), source=self.name, envelope_id=envelope_id,
                        agreement_id=agreement_id, status=status, signers=tuple(signers),
                        completed_at=completed_at)

    def completed(self, envelope_id: str, *, hint: str) -> Envelope:
        """The envelope, which must be completed before its signed document is downloaded."""
        envelope = self.signature_status(envelope_id)
        if envelope.status is not EnvelopeStatus.COMPLETED:
            msg = f"{self.envelope_noun} {envelope_id} is {envelope.status.value}, not completed"
            raise ConnectorError(msg, instance=self.name, hint=hint)
        return envelope

    def create_once(self, create: Callable[[], T], *, what: str, hint: str) -> T:
        """``create()`` (a POST the client tries again only when refused, so nothing was made);
        a 5xx or lost answer may have made it, so it is reported, not retried."""
        try:
            return create()
        except ConnectorError as exc:
            if exc.status is not None and exc.status < 500:
                raise
            raise ServerError(f"{what} failed and may or may not have happened: {exc.message}",
                              instance=self.name, status=exc.status, request_id=exc.request_id,
                              hint=hint) from None


def with_countersigner(signers: Sequence[Signer], config: Countersigned) -> list[Signer]:
    """The signers, then HR's configured countersigner unless one of them already signs for HR."""
    if not config.countersigner_email or any(s.role == "hr" for s in signers):
        return list(signers)
    return [*signers, Signer(name=str(config.countersigner_name), email=config.countersigner_email,
                             role="hr")]


def first_live(envelopes: Iterable[Envelope | None]) -> Envelope | None:
    """The first envelope found that is not voided (lazily: later lookups are not made)."""
    return next((e for e in envelopes if e is not None and e.status is not EnvelopeStatus.VOIDED), None)


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A callback's JSON object; anything else is a ``WebhookRejected`` naming ``what``."""
    try:
        payload = json.loads(text)
    except ValueError:
        raise WebhookRejected(f"{what} is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(f"{what} is not a JSON object")
    return payload
