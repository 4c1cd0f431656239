"""Input limits: oversized input is refused with a Clerk 4xx before it costs memory, CPU or state.

Each limit is tested at its edge (the largest accepted value works, one more is refused) and for its
purpose: a too-long code is refused before it is checked (no failed attempt is counted), a flood of
form fields is refused without splitting the body, a huge streamed body without reading it.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from totpkit.types.error_answers import ClerkAPIException
from totpkit.types.request_body import (
    MAX_CODE_LENGTH,
    MAX_FIELDS,
    MAX_IDENTIFIER_LENGTH,
    MAX_JSON_DEPTH,
    parse_body,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def refused(body: bytes, content_type: str) -> ClerkAPIException:
    with pytest.raises(ClerkAPIException) as raised:
        parse_body(body, content_type)
    return raised.value


def nested(depth: int) -> bytes:
    """A JSON object whose deepest value sits at ``depth`` (the object itself is depth 1)."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


class TestBodyShape:
    @pytest.mark.parametrize("content_type", [FORM, JSON])
    def test_field_count(self, content_type: str) -> None:
        """At most MAX_FIELDS fields; one more is 422 on ``body``."""

        def body(count: int) -> bytes:
            if content_type == FORM:
                return "&".join(f"f{i}=1" for i in range(count)).encode()
            return json.dumps({f"f{i}": "1" for i in range(count)}).encode()

        assert parse_body(body(MAX_FIELDS), content_type).optional_str("f0") == "1"
        error = refused(body(MAX_FIELDS + 1), content_type)
        assert (error.status, error.code, error.meta) == (422, "form_param_format_invalid", {"param_name": "body"})

    def test_repeated_form_fields_count_too(self) -> None:
        """A form field repeated past the limit is refused like distinct fields."""
        assert parse_body(b"&".join([b"code=1"] * MAX_FIELDS), FORM).optional_str("code") == "1"
        assert refused(b"&".join([b"code=1"] * (MAX_FIELDS + 1)), FORM).status == 422

    def test_json_nesting(self) -> None:
        """JSON nested MAX_JSON_DEPTH levels is read; one level more is 422 (checked without recursion)."""
        assert "a" in parse_body(nested(MAX_JSON_DEPTH), JSON)
        error = refused(nested(MAX_JSON_DEPTH + 1), JSON)
        assert (error.status, error.meta) == (422, {"param_name": "body"})
        assert "nested" in error.long_message

    def test_a_json_array_is_not_text(self) -> None:
        """A JSON array where text is expected is 422, while a repeated form field gives its first value."""
        assert parse_body(b"strategy=totp&strategy=x", FORM).optional_str("strategy") == "totp"
        for value in ([None, None], [], ["totp"]):
            params = parse_body(json.dumps({"strategy": value}).encode(), JSON)
            with pytest.raises(ClerkAPIException) as raised:
                params.optional_str("strategy")
            assert (raised.value.status, raised.value.meta) == (422, {"param_name": "strategy"})

    def test_a_flood_of_fields_is_refused_without_splitting_the_body(self) -> None:
        """Half a million form fields are refused by counting separators: no list or dict of them is built
        (that would take well over 50 MB); the peak stays near the decoded body's own size."""
        body = b"a&" * 500_000
        tracemalloc.start()
        try:
            error = refused(body, FORM)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert error.status == 422
        assert peak < 3 * len(body), peak


class TestFieldLengths:
    async def test_code_length(self, kit: Any) -> None:
        """A code of MAX_CODE_LENGTH characters is checked (wrong: counted); one more is refused before
        any check, so no failed attempt is counted and the lockout counter does not move."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        remaining = (await kit.bapi_get_user(enrolled.user_id)).json()["verification_attempts_remaining"]

        too_long = await kit.attempt_second_factor(device, sign_in_id, "totp", "1" * (MAX_CODE_LENGTH + 1))
        kit.error(too_long, 422, "form_param_format_invalid")
        assert too_long.json()["errors"][0]["meta"] == {"param_name": "code"}
        after = (await kit.bapi_get_user(enrolled.user_id)).json()["verification_attempts_remaining"]
        assert after == remaining

        longest = await kit.attempt_second_factor(device, sign_in_id, "backup_code", "1" * MAX_CODE_LENGTH)
        kit.error(longest, 422, "form_code_incorrect")
        after = (await kit.bapi_get_user(enrolled.user_id)).json()["verification_attempts_remaining"]
        assert after == remaining - 1

    async def test_code_length_at_enrolment(self, kit: Any) -> None:
        """The same limit holds when verifying a new TOTP."""
        _, device = await kit.user_and_device()
        assert (await device.post("/v1/me/totp")).status_code == 200
        too_long = await device.post("/v1/me/totp/attempt_verification", data={"code": "1" * (MAX_CODE_LENGTH + 1)})
        kit.error(too_long, 422, "form_param_format_invalid")
        assert (await device.me())["verification_attempts_remaining"] == kit.config.lockout_max_attempts

    async def test_identifier_length(self, kit: Any) -> None:
        """An identifier of MAX_IDENTIFIER_LENGTH characters is looked up; one more is refused unread."""
        longest = "a" * (MAX_IDENTIFIER_LENGTH - len("@example.com")) + "@example.com"
        _, unknown = await kit.start_sign_in(longest)
        kit.error(unknown, 422, "form_identifier_not_found")
        _, too_long = await kit.start_sign_in("a" + longest)
        kit.error(too_long, 422, "form_param_format_invalid")
        assert too_long.json()["errors"][0]["meta"] == {"param_name": "identifier"}

    async def test_email_address_length(self, kit: Any) -> None:
        """Users cannot be created with an address longer than an identifier may be (they could never sign in)."""

        def address(length: int) -> str:
            return "u@" + "d" * (length - len("u@.com")) + ".com"

        longest = await kit.bapi_create_user({"email_address": [address(MAX_IDENTIFIER_LENGTH)]})
        assert longest.status_code == 200, longest.text
        response = await kit.bapi_create_user({"email_address": [address(MAX_IDENTIFIER_LENGTH + 1)]})
        kit.error(response, 422, "form_param_format_invalid")
        assert response.json()["errors"][0]["meta"] == {"param_name": "email_address"}


class TestBodySize:
    async def test_a_huge_streamed_body_is_not_read(self, concurrent_kit: Any) -> None:
        """A 64 MB body streamed without Content-Length gets 413 after the first chunks: memory stays low."""
        chunk = b"1" * 65_536
        sent = 0

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal sent
            for _ in range(1024):
                sent += 1
                yield chunk

        tracemalloc.start()
        try:
            response = await concurrent_kit.http.post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                content=chunks(),
                headers={"Authorization": "", "Content-Type": FORM},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        concurrent_kit.error(response, 413, "request_body_too_large")
        assert sent < 16, sent
        assert peak < 4 * 1024 * 1024, peak


class TestMethodOverride:
    async def test_a_malformed_body_does_not_disable_totp(self, kit: Any) -> None:
        """``POST /v1/me/totp?_method=DELETE`` checks its body like any POST: a malformed one is 422 and
        the TOTP stays (found by the schema-driven fuzzing)."""
        enrolled = await kit.enrolled_user()
        response = await enrolled.device.post(
            "/v1/me/totp", params={"_method": "DELETE"}, content=b'{"x": ', headers={"Content-Type": JSON}
        )
        kit.error(response, 422, "form_param_format_invalid")
        assert (await enrolled.device.me())["totp_enabled"] is True
