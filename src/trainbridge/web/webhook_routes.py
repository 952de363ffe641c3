"""The webhook receiver (no login: the vendor's signature is the credential) and the waiting Gusto tokens."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.errors import ConfigError, PluginError, TrainbridgeError, WebhookRejected
from trainbridge.core.secrets import redact
from trainbridge.web.console import Console

log = logging.getLogger("trainbridge.web")
QUERY_HEADER = "X-Trainbridge-Query"
#: e-signature callbacks are small JSON or form posts; anything bigger is not one.
MAX_WEBHOOK_BYTES = 1 << 20


def routes(c: Console) -> list[BaseRoute]:
    ws = c.ws

    async def webhook(request: Request) -> Response:
        from trainbridge.core.webhooks import receive_webhook

        instance = request.path_params["instance"]
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_WEBHOOK_BYTES:
                return Response("callback body too large", status_code=413, media_type="text/plain")
            chunks.append(chunk)
        body = b"".join(chunks)
        headers = dict(request.headers.items())
        # Some vendors (DingTalk) sign query parameters; the connector finds them here.
        headers[QUERY_HEADER] = request.url.query
        try:
            reply = await run_in_threadpool(receive_webhook, ws, instance, headers, body)
        except WebhookRejected:
            return Response("signature rejected", status_code=401, media_type="text/plain")
        except (ConfigError, PluginError):
            return Response("no such webhook receiver", status_code=404, media_type="text/plain")
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, UnicodeError) as exc:
            # A body the connector could not read (a signed `[]`): the sender's mistake, not ours.
            log.warning("callback to %s could not be read: %s", instance, redact(repr(exc))[:200])
            return Response("callback body not understood", status_code=400, media_type="text/plain")
        except TrainbridgeError as exc:
            log.error("callback to %s failed: %s", instance, redact(str(exc)))
            return Response("callback could not be applied", status_code=500, media_type="text/plain")
        return Response(reply.body, status_code=reply.status_code, media_type=reply.content_type)

    def waiting_tokens() -> dict[str, Any]:
        found = {name: getattr(inst, "handshake_tokens", None)
                 for name, inst in sorted(ws.host.instances.items())}
        return {name: tokens for name, tokens in found.items() if hasattr(tokens, "take")}

    @c.page("admin")
    async def webhook_tokens(request: Request) -> Response:
        waiting = waiting_tokens()
        if request.method == "GET":
            return c.render(request, "webhook_tokens.html", waiting={n: len(t) for n, t in waiting.items()},
                            shown=None)
        instance = str(c.form_of(request).get("instance", ""))
        if instance not in waiting:
            raise HTTPException(404)
        tokens = waiting[instance].take()

        def note() -> None:
            with ws.ledger.transaction() as conn:
                ws.ledger.audit(conn, actor=request.state.session.user.name, action="webhook.tokens_shown",
                                subject=instance, detail={"count": len(tokens)})
        await run_in_threadpool(note)
        return c.render(request, "webhook_tokens.html", waiting={n: len(t) for n, t in waiting.items()},
                        shown={"instance": instance, "tokens": tokens})

    return [
        Route("/webhooks/{instance}", webhook, methods=["POST"]),
        Route("/webhook-tokens", webhook_tokens, methods=["GET", "POST"]),
    ]
