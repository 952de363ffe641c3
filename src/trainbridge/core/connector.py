"""The base class of every connector, and what the core hands a connector instance."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from trainbridge.core.records import HealthResult
from trainbridge.core.secrets import register_secret
from trainbridge.core.streams import STREAMS

if TYPE_CHECKING:
    from trainbridge.core.http import HttpClient, HttpSettings


class ConnectorConfig(BaseModel):
    """Base of every connector's config model: unknown keys are errors.

    ``legal_entities`` routes sink writes: an instance that lists entities receives the
    writes for employees of those entities; an instance that lists none is the default.
    """

    model_config = ConfigDict(extra="forbid")
    legal_entities: tuple[str, ...] = ()


@dataclass
class ConnectorContext:
    """What the core gives an instance: where it lives, how to reach the network, and the time.

    ``clock`` (epoch seconds) and ``sleep`` are the only clock and sleep a connector uses, so a
    test replaces both in one place; ``http()`` hands a replaced ``sleep`` to the client's retries.
    """

    base_dir: Path = field(default_factory=Path.cwd)
    tenant: str = "default"
    state: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def resolve(self, path: str | Path) -> Path:
        """A path from plugins.toml, relative to the file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    def http(self, base_url: str, *, instance: str, settings: HttpSettings | None = None,
             **kwargs: Any) -> HttpClient:
        from trainbridge.core.http import HttpClient, HttpSettings

        if self.sleep is not time.sleep:  # a context given its own sleep hands it to the retries
            kwargs.setdefault("sleep", self.sleep)
        return HttpClient(base_url, instance=instance, settings=settings or HttpSettings(), **kwargs)


class Connector:
    """Subclass this, set ``config_model``, and decorate role hooks with ``@hookimpl``.

    The core builds one object per ``[connectors.NAME]`` table and registers it with the
    plugin manager under ``NAME``.
    """

    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    #: Human-readable vendor name, for ``trainbridge plugins``.
    vendor: ClassVar[str] = ""

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx or ConnectorContext()
        self.log = logging.getLogger(f"trainbridge.connectors.{name}")
        _register_config_secrets(config)

    @classmethod
    def from_mapping(cls, name: str, table: Mapping[str, Any],
                     ctx: ConnectorContext | None = None) -> Connector:
        """Build from a plain mapping (tests, orchestrators); raises pydantic's ValidationError."""
        return cls(name, cls.config_model.model_validate(dict(table)), ctx)

    def produces(self, hook: str) -> tuple[str, ...]:
        """The record kinds this instance's source ``hook`` yields (``trainbridge.core.streams``).

        Override when one vendor read serves several kinds (one scan yielding learning events
        and cost items): the sync then reads that hook for any of them, and once.
        """
        return STREAMS.get(hook, ())

    def healthcheck(self) -> HealthResult:  # overridden with @hookimpl by connectors
        return HealthResult(ok=True, detail="no check defined")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _register_config_secrets(value: Any) -> None:
    """Every ``SecretStr`` in a connector's config is a secret, however it was written."""
    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _register_config_secrets(getattr(value, name))
    elif isinstance(value, list | tuple | set):
        for item in value:
            _register_config_secrets(item)
    elif isinstance(value, dict):
        for item in value.values():
            _register_config_secrets(item)
