"""The instance configuration (``GET /v1/environment``).

Clerk's Environment is large and strictly specified (``additionalProperties: false`` with long
``required`` lists). :func:`build_environment` fills a schema-valid template that ships with this
package, so the server and the SDK's fake answer with the same document.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

import msgspec

from ._base import ClerkStruct, JSONObject

__all__ = ("Environment", "build_environment")


class Environment(ClerkStruct, kw_only=True):
    """The bare (unwrapped) environment document; sections are kept as plain JSON objects."""

    auth_config: JSONObject = msgspec.field(default_factory=dict)
    display_config: JSONObject = msgspec.field(default_factory=dict)
    user_settings: JSONObject = msgspec.field(default_factory=dict)
    organization_settings: JSONObject = msgspec.field(default_factory=dict)
    maintenance_mode: bool = False

    def second_factors(self) -> list[str]:
        """Strategies offered as a second factor (``totp``, ``backup_code``), from ``user_settings``."""
        attributes = self.user_settings.get("attributes", {})
        strategies: list[str] = []
        for attribute in attributes.values():
            if isinstance(attribute, dict) and attribute.get("enabled") and attribute.get("used_for_second_factor"):
                strategies.extend(str(s) for s in attribute.get("second_factors", []))
        return strategies


@cache
def _template() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("environment_template.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def build_environment(
    *,
    application_name: str,
    development: bool,
    backup_codes_enabled: bool = True,
    reverification: bool = False,
    lockout_max_attempts: int = 10,
    lockout_duration_minutes: int = 60,
) -> Environment:
    """Build the environment for an instance with password sign-in and TOTP second factor.

    ``development`` sets ``instance_environment_type``; clerk-js shows a dev-mode banner for it.
    Backup codes are offered as a second factor only when ``backup_codes_enabled``.
    """
    document = copy.deepcopy(_template())
    auth_config = document["auth_config"]
    auth_config["reverification"] = reverification
    auth_config["second_factors"] = ["totp", "backup_code"] if backup_codes_enabled else ["totp"]
    display = document["display_config"]
    display["application_name"] = application_name
    display["instance_environment_type"] = "development" if development else "production"
    settings = document["user_settings"]
    settings["attributes"]["backup_code"]["enabled"] = backup_codes_enabled
    settings["attributes"]["backup_code"]["used_for_second_factor"] = backup_codes_enabled
    settings["attack_protection"]["user_lockout"] = {
        "enabled": lockout_max_attempts > 0,
        "max_attempts": lockout_max_attempts,
        "duration_in_minutes": lockout_duration_minutes,
    }
    return msgspec.convert(document, Environment)
