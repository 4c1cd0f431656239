"""Clerk-format API errors, raised by domain code and rendered by the plugin's handler.

The catalogue lives in :mod:`totpkit.types.error_answers`, shared with the SDK's fake so the two
never word an error differently; this module re-exports it for the server's code.
"""

from totpkit.types.error_answers import *  # noqa: F403
from totpkit.types.error_answers import __all__ as __all__
