"""A clock that tests move by hand."""

from __future__ import annotations

__all__ = ("ManualClock",)


class ManualClock:
    """A clock that stands still until moved: pass it as ``FakeFrontendAPI(clock=...)`` (or a server's
    ``TOTPKitConfig(clock=...)``) and set ``now`` or call :meth:`advance`. Time is Unix seconds."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward (or backward with a negative value)."""
        self.now += seconds
