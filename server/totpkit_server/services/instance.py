"""The running instance: configuration, store and keys, plus the small helpers every service needs."""

from __future__ import annotations

from ..config import TOTPKitConfig
from ..keys import InstanceKeys
from ..storage.base import Store

__all__ = ("Instance",)


class Instance:
    """What a request needs to act: the config, the open store and the keys.

    Created by the plugin's lifespan; handlers receive it as a dependency.
    """

    __slots__ = ("config", "keys", "store")

    def __init__(self, config: TOTPKitConfig, store: Store, keys: InstanceKeys) -> None:
        self.config = config
        self.store = store
        self.keys = keys

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
