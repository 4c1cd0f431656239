"""Property-based tests (hypothesis) of body decoding and of the code verifier.

For any body (arbitrary bytes, content types, field names and values, repeated fields, nested JSON,
huge numbers, NULs, invalid UTF-8), a few representative endpoints answer 2xx or a Clerk-format 4xx,
never a 5xx, and a 4xx changes nothing in the database, except that a wrong code or password may be
counted as a failed attempt (the lockout counters: that is what they are for). For any typed code,
the verifier never raises, and only a code of the user's current window is accepted.

Examples are bounded by the ``totpkit`` settings profile (``TOTPKIT_PROPERTY_EXAMPLES`` raises it);
derandomized, so CI runs the same examples each time.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import string
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from totpkit.otp import decode_secret, hotp, time_step, totp_code
from totpkit.types.error_answers import ClerkAPIException
from totpkit.types.request_body import parse_body
from totpkit_server import TOTPKitConfig
from totpkit_server.core.otp import find_matching_step

settings.register_profile(
    "totpkit",
    max_examples=int(os.environ.get("TOTPKIT_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = settings.get_profile("totpkit")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
FIELDS = ["code", "strategy", "identifier", "password", "email_address", "backup_codes", "totp_secret", "level"]
COUNTED_FAILURES = {"form_code_incorrect", "form_password_incorrect", "user_locked"}
COUNTER_COLUMNS = {
    "failed_attempts",
    "locked_until",
    "updated_at",
    "first_factor_attempts",
    "second_factor_attempts",
    "first_factor_strategy",
    "second_factor_strategy",
}
UNTRACKED_TABLES = {"audit_events", "rate_limits", "schema_migrations", "sqlite_sequence"}
"""Append-only logs and request counters: they record every request, failed ones included."""

TARGETS = ["create_sign_in", "attempt_second_factor", "verify_totp", "touch_session", "bapi_create_user"]

# --- strategies ----------------------------------------------------------------------------------

field_names = st.sampled_from(FIELDS) | st.text(max_size=12)
texts = st.text(max_size=80) | st.sampled_from(["", " ", "\x00", "123456", "%ff", "٣٣٣٣٣٣", "totp", "backup_code"])
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
content_types = st.sampled_from(
    [FORM, JSON, f"{FORM}; charset=utf-8", "application/vnd.api+json", "text/plain", "", "multipart/form-data"]
) | st.text(alphabet=string.ascii_letters + string.digits + "/+;=- ", max_size=40)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """``(content type, body)``: a form with repeated fields, a JSON document, or arbitrary bytes."""
    kind = draw(st.sampled_from(["form", "json", "bytes"]))
    if kind == "form":
        pairs = draw(st.lists(st.tuples(field_names, texts), max_size=8))
        return draw(st.sampled_from([FORM, f"{FORM}; charset=utf-8", ""])), urlencode(pairs).encode()
    if kind == "json":
        document = draw(st.dictionaries(field_names, json_values, max_size=6) | json_values)
        return draw(st.sampled_from([JSON, "application/merge-patch+json"])), json.dumps(document).encode()
    return draw(content_types), draw(st.binary(max_size=300))


# --- body decoding, without a server ---------------------------------------------------------------


class TestDecoding:
    @PROFILE
    @given(body=bodies(), content_type=content_types, names=st.lists(field_names, max_size=4))
    def test_any_body_parses_or_is_a_clerk_4xx(
        self, body: tuple[str, bytes], content_type: str, names: list[str]
    ) -> None:
        """Parsing and every accessor either give values of the promised types or raise a Clerk 4xx."""
        for media_type in (body[0], content_type):
            parsed = _outcome(parse_body, body[1], media_type)
            if isinstance(parsed, ClerkAPIException):
                assert parsed.status in (415, 422), parsed
                continue
            for name in [*names, *FIELDS]:
                for read in (parsed.optional_str, parsed.required_str, parsed.optional_str_list):
                    value = _outcome(read, name)
                    if isinstance(value, ClerkAPIException):
                        assert (value.status, value.meta) == (422, {"param_name": name}), value
                    else:
                        assert value is None or isinstance(value, str) or all(isinstance(v, str) for v in value)


def _outcome(function: Any, *args: Any) -> Any:
    """What ``function(*args)`` returns, or the Clerk error it raises (any other exception propagates)."""
    try:
        return function(*args)
    except ClerkAPIException as error:
        return error


# --- endpoints ------------------------------------------------------------------------------------


@pytest.fixture
def config(make_config: Any) -> TOTPKitConfig:
    """No lockout and no rate limit: every example reaches the code under test."""
    quiet: TOTPKitConfig = make_config(lockout_max_attempts=0, rate_limit_per_client=0, rate_limit_per_ip=0)
    return quiet


class World:
    """An enrolled user signed in, a sign-in waiting for its second factor, a user with a pending TOTP."""

    def __init__(self, kit: Any) -> None:
        self.kit = kit
        self.targets: dict[str, tuple[str, Any]] = {}
        self.secret = self.email = ""
        self.backup_codes: list[str] = []

    async def build(self) -> World:
        kit = self.kit
        enrolled = await kit.enrolled_user()
        self.secret, self.email, self.backup_codes = enrolled.secret, enrolled.email, list(enrolled.backup_codes)
        second, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        _, pending = await kit.user_and_device()
        assert (await pending.post("/v1/me/totp")).status_code == 200
        session_id = await kit.active_session_id(enrolled.device)
        self.targets = {
            "create_sign_in": ("/v1/client/sign_ins", kit.device()),
            "attempt_second_factor": (f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", second),
            "verify_totp": ("/v1/me/totp/attempt_verification", pending),
            "touch_session": (f"/v1/client/sessions/{session_id}/touch", enrolled.device),
            "bapi_create_user": ("/v1/users", None),
        }
        return self

    async def renew_sign_in(self) -> None:
        """A new sign-in waiting for its second factor (after one completed)."""
        second, sign_in_id = await self.kit.second_factor_sign_in(self.email)
        self.targets["attempt_second_factor"] = (f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", second)

    async def send(self, target: str, content_type: str, body: bytes) -> Any:
        path, device = self.targets[target]
        headers = {"Content-Type": content_type} if content_type else {}
        if device is None:
            headers["Authorization"] = f"Bearer {self.kit.secret_key}"
            return await self.kit.http.post(path, content=body, headers=headers)
        return await device.post(path, content=body, headers=headers)


def database_state(path: Path, *, ignore_counters: bool) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every tracked table (optionally without the failed-attempt counters)."""
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        state = {}
        for table in sorted(set(tables) - UNTRACKED_TABLES):
            cursor = db.execute(f'SELECT * FROM "{table}" ORDER BY 1')  # noqa: S608 - names from sqlite_master
            keep = [
                i
                for i, column in enumerate(cursor.description)
                if not ignore_counters or column[0] not in COUNTER_COLUMNS
            ]
            state[table] = [tuple(row[i] for i in keep) for row in cursor.fetchall()]
    return state


@pytest.fixture
async def world(kit: Any) -> World:
    return await World(kit).build()


class TestEndpoints:
    @PROFILE
    @given(target=st.sampled_from(TARGETS), body=bodies())
    async def test_any_body_gets_2xx_or_a_clerk_4xx_that_changes_nothing(
        self, world: World, config: TOTPKitConfig, target: str, body: tuple[str, bytes]
    ) -> None:
        """Never a 5xx; a 4xx is Clerk's envelope and leaves the database as it was (counters aside)."""
        before = {masked: database_state(config.sqlite_path, ignore_counters=masked) for masked in (False, True)}
        response = await world.send(target, *body)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            counted = world.kit.error(response) in COUNTED_FAILURES
            assert database_state(config.sqlite_path, ignore_counters=counted) == before[counted], (target, body)
        world.kit.next_step()


# --- the code verifier ----------------------------------------------------------------------------

secrets = st.binary(min_size=10, max_size=40).map(lambda raw: base64.b32encode(raw).decode().rstrip("="))
instants = st.floats(min_value=0, max_value=2**40, allow_nan=False)
codes = st.text(max_size=80) | st.text(alphabet="0123456789 ", min_size=5, max_size=8)


class TestVerifier:
    @PROFILE
    @given(secret=secrets, code=codes, at=instants, window=st.integers(0, 2))
    def test_only_a_code_of_the_window_matches(self, secret: str, code: str, at: float, window: int) -> None:
        """Any typed text: no exception, and a match exactly when it is the code of a step in the window."""
        current = time_step(at, 30)
        window_codes = {
            step: hotp(decode_secret(secret), step) for step in range(max(0, current - window), current + window + 1)
        }
        matched = find_matching_step(secret, code, at=at, window=window)
        expected = [step for step, real in window_codes.items() if real == code.strip() and code.strip().isascii()]
        assert matched == (max(expected) if expected else None)

    @PROFILE
    @given(secret=secrets, at=instants, padding=st.sampled_from(["", " ", "\t", "\n "]))
    def test_the_right_code_matches(self, secret: str, at: float, padding: str) -> None:
        """The current code (surrounding whitespace ignored) matches the current step."""
        code = padding + totp_code(secret, at=at) + padding
        assert find_matching_step(secret, code, at=at, window=0) == time_step(at, 30)

    @PROFILE
    @given(code=codes | st.just(""), strategy=st.sampled_from(["totp", "backup_code"]), right=st.booleans())
    async def test_second_factor_accepts_only_the_right_code(
        self, world: World, code: str, strategy: str, right: bool
    ) -> None:
        """Through the API (sign-in second factor, so through MFAService): any code is answered without a
        5xx, and the sign-in completes exactly when the code is the user's current TOTP code or one of
        their unused backup codes (each used once)."""
        kit = world.kit
        valid = [kit.code(world.secret)] if strategy == "totp" else world.backup_codes
        if right and valid:
            code = valid[0]
        acceptable = (code.strip() if strategy == "totp" else code) in valid
        response = await world.send(
            "attempt_second_factor", FORM, urlencode({"strategy": strategy, "code": code}).encode()
        )
        assert response.status_code < 500, response.text
        assert (response.status_code == 200) == acceptable, (code, response.text)
        if acceptable:
            if strategy == "backup_code":
                world.backup_codes.remove(code)
            await world.renew_sign_in()
        kit.next_step()
