"""Clerk-format error answers of the fake: the catalogue the totpkit server raises, re-exported."""

from ..types.error_answers import *  # noqa: F403
from ..types.error_answers import __all__ as __all__
