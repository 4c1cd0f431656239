"""Bad input never breaks the server: a Clerk-format 4xx, never a 5xx or a traceback, and no state change.

A small world is built per test (an enrolled user, a user with a pending TOTP, a sign-in waiting for
its second factor, one waiting for its first factor); every bad request is followed by a comparison
of everything the API shows about that world before and after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery staple"
BAD_EMAIL = "never-created@example.com"


@dataclass
class World:
    kit: Any
    devices: dict[str, Any]
    ids: dict[str, str]
    secret: str
    user_ids: list[str] = field(default_factory=list)

    async def snapshot(self) -> list[Any]:
        """Everything observable about the world (session JWTs stripped: they are minted per request)."""
        shots: list[Any] = []
        for name, device in sorted(self.devices.items()):
            shots.append((name, "client", strip_tokens((await device.get("/v1/client")).json())))
            me = await device.get("/v1/me")
            shots.append((name, "me", me.status_code, strip_tokens(me.json())))
        for user_id in self.user_ids:
            shots.append(("bapi", user_id, (await self.kit.bapi_get_user(user_id)).json()))
        _, probe = await self.kit.start_sign_in(BAD_EMAIL)
        shots.append(("bad email unused", probe.json()["errors"][0]["code"]))
        return shots


def strip_tokens(document: Any) -> Any:
    if isinstance(document, dict):
        return {
            k: strip_tokens(v) for k, v in document.items() if k not in ("jwt", "last_active_token", "clerk_trace_id")
        }
    if isinstance(document, list):
        return [strip_tokens(v) for v in document]
    return document


@pytest.fixture
async def world(kit: Any) -> World:
    enrolled = await kit.enrolled_user()
    _, pending = await kit.user_and_device()
    created = await pending.post("/v1/me/totp")
    assert created.status_code == 200
    second, sign_in_2fa = await kit.second_factor_sign_in(enrolled.email)
    first = kit.device()
    started = await first.post("/v1/client/sign_ins", data={"identifier": enrolled.email})
    assert started.json()["response"]["status"] == "needs_first_factor"
    pending_me = await pending.me()
    return World(
        kit=kit,
        devices={"enrolled": enrolled.device, "pending": pending, "second": second, "first": first},
        ids={
            "sign_in_2fa": sign_in_2fa,
            "sign_in_1fa": started.json()["response"]["id"],
            "session": await kit.active_session_id(enrolled.device),
            "user": enrolled.user_id,
        },
        secret=enrolled.secret,
        user_ids=[enrolled.user_id, pending_me["id"]],
    )


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    device: str  # a world device, or "bapi"
    valid: dict[str, Any]
    required: tuple[str, ...]
    """Fields that must be text; missing/null/empty count as bad for these."""
    optional_text: tuple[str, ...] = ()
    """Fields that may be absent but, when present, must be text."""


ENDPOINTS = [
    Endpoint(
        "create_sign_in",
        "/v1/client/sign_ins",
        "second",
        {"identifier": "someone@example.com", "password": PASSWORD},
        ("identifier",),
        ("password", "strategy"),
    ),
    Endpoint(
        "attempt_first_factor",
        "/v1/client/sign_ins/{sign_in_1fa}/attempt_first_factor",
        "first",
        {"strategy": "password", "password": "definitely wrong"},
        ("strategy", "password"),
    ),
    Endpoint(
        "attempt_second_factor",
        "/v1/client/sign_ins/{sign_in_2fa}/attempt_second_factor",
        "second",
        {"strategy": "totp", "code": "123456"},
        ("strategy", "code"),
    ),
    Endpoint("verify_totp", "/v1/me/totp/attempt_verification", "pending", {"code": "123456"}, ("code",)),
    Endpoint(
        "bapi_create_user",
        "/v1/users",
        "bapi",
        {"email_address": [BAD_EMAIL], "password": PASSWORD},
        ("email_address",),
        ("password", "first_name", "last_name", "totp_secret"),
    ),
]
BODY_ONLY_ENDPOINTS = [
    Endpoint("create_totp", "/v1/me/totp", "pending", {}, ()),
    Endpoint("backup_codes", "/v1/me/backup_codes", "enrolled", {}, ()),
    Endpoint("session_tokens", "/v1/client/sessions/{session}/tokens", "enrolled", {}, ()),
    Endpoint("end_session", "/v1/client/sessions/{session}/end", "enrolled", {}, ()),
    Endpoint("touch_session", "/v1/client/sessions/{session}/touch", "enrolled", {}, ()),
    Endpoint("remove_session", "/v1/client/sessions/{session}/remove", "enrolled", {}, ()),
]

WRONG_TYPES: dict[str, Any] = {
    "int": 123,
    "float": 1.5,
    "true": True,
    "list_of_ints": [1, 2],
    "list_of_objects": [{"a": 1}],
    "object": {"code": "123456"},
    "huge": "7" * 5000,
    "nul": "12\x0034",  # PostgreSQL cannot store U+0000: refused on every backend before any use
}
MISSING_VALUES: dict[str, Any] = {"null": None, "empty": "", "blank": "   ", "empty_list": []}


def field_cases() -> list[Any]:
    cases = []
    for endpoint in ENDPOINTS:
        for name in endpoint.required:
            cases.append(pytest.param(endpoint, name, "missing", id=f"{endpoint.name}-{name}-missing"))
            for label in MISSING_VALUES:
                cases.append(pytest.param(endpoint, name, label, id=f"{endpoint.name}-{name}-{label}"))
        for name in (*endpoint.required, *endpoint.optional_text):
            for label in WRONG_TYPES:
                cases.append(pytest.param(endpoint, name, label, id=f"{endpoint.name}-{name}-{label}"))
    return cases


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BODY_CASES: dict[str, tuple[str, bytes, int]] = {
    "malformed_json": (JSON, b'{"code": "123', 422),
    "json_trailing_garbage": (JSON, b'{"code": "123456"} x', 422),
    "json_array": (JSON, b'["code", "123456"]', 422),
    "json_string": (JSON, b'"code=123456"', 422),
    "json_number": (JSON, b"123456", 422),
    "json_null": (JSON, b"null", 422),
    "json_deep_nesting": (JSON, b"[" * 20_000 + b"]" * 20_000, 422),
    "json_invalid_utf8": (JSON, b'{"code": "\xff\xfe"}', 422),
    "json_too_many_fields": (JSON, json.dumps({f"f{i}": i for i in range(500)}).encode(), 422),
    "form_invalid_utf8": (FORM, b"code=\xff\xfe&strategy=totp", 422),
    "form_percent_invalid_utf8": (FORM, b"code=%ff%fe&strategy=totp", 422),
    "form_too_many_fields": (FORM, "&".join(f"f{i}=1" for i in range(2000)).encode(), 422),
    "form_1mb": (FORM, b"code=" + b"1" * (1024 * 1024), 413),
    "json_1mb": (JSON, b'{"code": "' + b"1" * (1024 * 1024) + b'"}', 413),
    "text_plain": ("text/plain", b"code=123456", 415),
    "xml": ("application/xml", b"<code>123456</code>", 415),
    "multipart": ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--\r\n", 415),
}


def body_cases() -> list[Any]:
    return [
        pytest.param(endpoint, label, id=f"{endpoint.name}-{label}")
        for endpoint in (*ENDPOINTS, *BODY_ONLY_ENDPOINTS)
        for label in BODY_CASES
    ]


async def send(world: World, endpoint: Endpoint, **kwargs: Any) -> Any:
    path = endpoint.path.format(**world.ids)
    if endpoint.device == "bapi":
        headers = {"Authorization": f"Bearer {world.kit.secret_key}", **kwargs.pop("headers", {})}
        return await world.kit.http.post(path, headers=headers, **kwargs)
    return await world.devices[endpoint.device].post(path, **kwargs)


class TestBadFields:
    @pytest.mark.parametrize(("endpoint", "name", "label"), field_cases())
    async def test_bad_field(self, world: World, endpoint: Endpoint, name: str, label: str) -> None:
        """A missing, empty or wrongly typed field is a 422 Clerk error that changes nothing."""
        before = await world.snapshot()
        body = dict(endpoint.valid)
        if label == "missing":
            body.pop(name, None)
        else:
            body[name] = {**MISSING_VALUES, **WRONG_TYPES}[label]
        response = await send(world, endpoint, json=body)
        code = world.kit.error(response, 422)
        assert code in ("form_param_missing", "form_param_format_invalid", "form_param_value_invalid"), code
        assert await world.snapshot() == before

    @pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
    async def test_empty_form_body(self, world: World, endpoint: Endpoint) -> None:
        """An empty form body (what clerk-js sends for no fields) is 422 form_param_missing."""
        before = await world.snapshot()
        response = await send(world, endpoint, content=b"", headers={"Content-Type": FORM})
        world.kit.error(response, 422, "form_param_missing")
        assert await world.snapshot() == before


class TestBadBodies:
    @pytest.mark.parametrize(("endpoint", "label"), body_cases())
    async def test_bad_body(self, world: World, endpoint: Endpoint, label: str) -> None:
        """Malformed, oversized or foreign-typed bodies get the documented 4xx and change nothing."""
        content_type, content, status = BODY_CASES[label]
        before = await world.snapshot()
        response = await send(world, endpoint, content=content, headers={"Content-Type": content_type})
        world.kit.error(response, status)
        if status == 413:
            assert response.json()["errors"][0]["code"] == "request_body_too_large"
        if status == 415:
            assert response.json()["errors"][0]["code"] == "unsupported_content_type"
        assert await world.snapshot() == before

    async def test_body_over_limit_without_content_length(self, world: World, concurrent_kit: Any) -> None:
        """A streamed (chunked) body over the limit is refused with 413 as well.

        Sent through the in-loop ASGI client (Litestar's test client cannot stream a request body) to a
        second app on the same database.
        """

        async def chunks() -> Any:
            for _ in range(100):
                yield b"1" * 10_000

        before = await world.snapshot()
        response = await concurrent_kit.http.post(
            "/v1/me/totp/attempt_verification",
            params={"_is_native": "1"},
            content=chunks(),
            headers={"Authorization": world.devices["pending"].token, "Content-Type": FORM},
        )
        world.kit.error(response, 413, "request_body_too_large")
        assert await world.snapshot() == before


class TestBadIds:
    @pytest.mark.parametrize(
        ("device", "path_template"),
        [
            ("second", "/v1/client/sign_ins/{id}/attempt_second_factor"),
            ("second", "/v1/client/sign_ins/{id}"),
            ("enrolled", "/v1/client/sessions/{id}/tokens"),
            ("enrolled", "/v1/client/sessions/{id}/end"),
            ("enrolled", "/v1/client/sessions/{id}/touch"),
            ("enrolled", "/v1/client/sessions/{id}/remove"),
            ("enrolled", "/v1/client/sessions/{id}"),
        ],
    )
    @pytest.mark.parametrize(
        "bad_id", ["sia_doesnotexist", "sess_doesnotexist", "x" * 3000, "%00", "%C3%A9", "..%2F..%2Fetc"]
    )
    async def test_unknown_ids(self, world: World, device: str, path_template: str, bad_id: str) -> None:
        """Unknown or odd ids are 404 resource_not_found and change nothing."""
        before = await world.snapshot()
        path = path_template.format(id=bad_id)
        dev = world.devices[device]
        data = {"strategy": "totp", "code": world.kit.code(world.secret)}
        response = await (dev.get(path) if path.count("/") == 4 else dev.post(path, data=data))
        world.kit.error(response, 404, "resource_not_found")
        assert await world.snapshot() == before

    async def test_someone_elses_sign_in_with_the_right_code(self, world: World) -> None:
        """Another client's sign-in id is 404 even with the right code; the sign-in stays open."""
        before = await world.snapshot()
        for name in ("enrolled", "pending", "first"):
            response = await world.devices[name].post(
                f"/v1/client/sign_ins/{world.ids['sign_in_2fa']}/attempt_second_factor",
                data={"strategy": "totp", "code": world.kit.code(world.secret)},
            )
            world.kit.error(response, 404, "resource_not_found")
        stranger = world.kit.device()
        response = await stranger.post(
            f"/v1/client/sign_ins/{world.ids['sign_in_2fa']}/attempt_second_factor",
            data={"strategy": "totp", "code": world.kit.code(world.secret)},
        )
        world.kit.error(response, 404, "resource_not_found")
        assert await world.snapshot() == before

    @pytest.mark.parametrize("action", ["tokens", "end", "touch", "remove"])
    async def test_someone_elses_session(self, world: World, action: str) -> None:
        """Another client's session id cannot be used, ended or touched."""
        before = await world.snapshot()
        for name in ("pending", "second", "first"):
            response = await world.devices[name].post(f"/v1/client/sessions/{world.ids['session']}/{action}")
            world.kit.error(response, 404, "resource_not_found")
        assert await world.snapshot() == before

    async def test_unknown_bapi_user(self, world: World) -> None:
        """BAPI GET of an unknown user is 404."""
        world.kit.error(await world.kit.bapi_get_user("user_doesnotexist"), 404, "resource_not_found")
        world.kit.error(await world.kit.bapi_get_user("x" * 3000), 404, "resource_not_found")


class TestWrongCodesAreNever401:
    async def test_wrong_codes_are_422(self, world: World) -> None:
        """Wrong codes at enrolment and sign-in are 422 form_code_incorrect, never 401."""
        kit = world.kit
        codes = ("12345", "abcdef", "9" * 60, "٣٣٣٣٣٣")  # 8 second-factor failures: below the lockout
        for index, code in enumerate(codes):
            verify = await world.devices["pending"].post("/v1/me/totp/attempt_verification", data={"code": code})
            assert verify.status_code != 401
            kit.error(verify, 422, "form_code_incorrect")
            attempt = await kit.attempt_second_factor(world.devices["second"], world.ids["sign_in_2fa"], "totp", code)
            assert attempt.status_code != 401
            kit.error(attempt, 422, "form_code_incorrect")
            backup = await kit.attempt_second_factor(
                world.devices["second"], world.ids["sign_in_2fa"], "backup_code", code
            )
            assert backup.status_code != 401
            last = index == len(codes) - 1  # the 8th failure leaves 2 attempts: a (still 422) lockout warning
            kit.error(backup, 422, "account_lockout_warning" if last else "form_code_incorrect")
