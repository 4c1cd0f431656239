"""The running instance: configuration, store and keys, plus the small helpers every service needs."""

from __future__ import annotations

from pathlib import Path

from ..config import TOTPKitConfig
from ..core.audit import AuditDetail, AuditEvent, AuditOutcome
from ..keys import InstanceKeys, KeyFileWatcher
from ..storage.base import Store
from .audit import record_audit_event

__all__ = ("Instance",)


class Instance:
    """What a request needs to act: the config, the open store and the keys.

    Created by the plugin's lifespan; handlers receive it as a dependency. With ``keys_file`` the keys
    follow that file (see :class:`~totpkit_server.keys.KeyFileWatcher`): a rotation made by any
    process or host reaches this one at its next request.
    """

    __slots__ = ("_keys", "_watcher", "config", "store")

    def __init__(
        self, config: TOTPKitConfig, store: Store, keys: InstanceKeys, *, keys_file: Path | None = None
    ) -> None:
        self.config = config
        self.store = store
        self._keys = keys
        self._watcher = KeyFileWatcher(keys_file, keys) if keys_file is not None else None

    @property
    def keys(self) -> InstanceKeys:
        """The keys to use now."""
        return self._watcher.current() if self._watcher is not None else self._keys

    def now(self) -> float:
        """The injected clock, Unix seconds."""
        return self.config.clock()

    def now_ms(self) -> int:
        """The injected clock, Unix milliseconds."""
        return self.config.now_ms()

    def new_id(self, prefix: str) -> str:
        """A fresh resource id with ``prefix``."""
        return self.config.make_id(prefix)

    def random_bytes(self, n: int) -> bytes:
        """``n`` bytes from the injected randomness."""
        return self.config.random_bytes(n)

    @property
    def lockout_ms(self) -> int:
        """How long a lockout lasts, in milliseconds."""
        return self.config.lockout_duration * 1000

    async def audit(
        self,
        event: AuditEvent,
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
        *,
        user_id: str | None,
        client_id: str | None = None,
        session_id: str | None = None,
        detail: AuditDetail | None = None,
    ) -> None:
        """Record a security event in the audit log (see :func:`~.audit.record_audit_event`).

        Call it where the outcome is known and before raising the operation's error. Never pass a
        secret, code, password, token or otpauth URI in ``detail`` (such keys raise ValueError).
        """
        await record_audit_event(
            self, event, outcome, user_id=user_id, client_id=client_id, session_id=session_id, detail=detail
        )
