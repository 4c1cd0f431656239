"""The running instance: configuration, store and keys, plus the small helpers every service needs."""

from __future__ import annotations

from pathlib import Path

from ..config import TOTPKitConfig
from ..core.audit import AuditDetail, AuditEvent, AuditOutcome
from ..keys import InstanceKeys, KeyFileWatcher
from ..storage.base import Store
from .audit import record_audit_event
from .hashing import HashingPool

__all__ = ("Instance",)


class Instance:
    """What a request needs to act: the config, the open store, the keys and the hashing pool.

    Created by the plugin's lifespan; handlers receive it as a dependency. Without ``hashing`` a
    pool is made from ``config.hashing_threads`` / ``config.hashing_queue``. With ``keys_file`` the
    keys follow that file (see :class:`~totpkit_server.keys.KeyFileWatcher`): a rotation made by any
    process or host reaches this one at its next request.
    """

    __slots__ = ("_keys", "_watcher", "config", "hashing", "store")

    def __init__(
        self,
        config: TOTPKitConfig,
        store: Store,
        keys: InstanceKeys,
        *,
        hashing: HashingPool | None = None,
        keys_file: Path | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._keys = keys
        self._watcher = KeyFileWatcher(keys_file, keys, production=config.production) if keys_file is not None else None
        self.hashing = hashing or HashingPool(threads=config.hashing_threads, queue=config.hashing_queue)

    @property
    def keys(self) -> InstanceKeys:
        """The keys to use now."""
        return self._watcher.current() if self._watcher is not None else self._keys

    async def verify_password(self, stored_hash: str | None, password: str) -> bool:
        """``config.password_hasher.verify`` in the hashing pool (429 when it is full, see :class:`HashingPool`)."""
        return await self.hashing.run(self.config.password_hasher.verify, stored_hash, password)

    async def hash_password(self, password: str) -> str:
        """``config.password_hasher.hash`` in the hashing pool (429 when it is full)."""
        return await self.hashing.run(self.config.password_hasher.hash, password)

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
