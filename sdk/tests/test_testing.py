"""totpkit.testing: the stateful fake server behaves like docs/BEHAVIOUR.md, driven through the SDK."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from totpkit import (
    AsyncBackend,
    AsyncFrontend,
    AsyncUser,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
    otp,
    testing,
)
from totpkit.testing import FakeFrontendAPI, ManualClock, totp_code
from totpkit.types import JWKS, DeletedObject, build_environment

EMAIL = "jane@example.com"
PASSWORD = "correct horse battery staple"
START = 1_700_000_010.0  # 10 s into a 30 s step


@pytest.fixture(name="clock")
def fx_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(name="fake")
async def fx_fake(clock: ManualClock) -> AsyncIterator[FakeFrontendAPI]:
    async with FakeFrontendAPI(clock=clock, random_bytes=random.Random(7).randbytes) as fake:
        yield fake


@pytest.fixture(name="fapi")
async def fx_fapi(fake: FakeFrontendAPI) -> AsyncFrontend:
    """A device signed in as a user without MFA."""
    fake.add_user(EMAIL, PASSWORD)
    fapi = fake.frontend()
    await fapi.sign_in(identifier=EMAIL, password=PASSWORD)
    return fapi


@pytest.fixture(name="raw")
def fx_raw(fake: FakeFrontendAPI) -> httpx.AsyncClient:
    """An httpx client answered by the fake, for requests the SDK never makes."""
    return fake.http_client()


async def _enrol(fapi: AsyncFrontend, clock: ManualClock) -> tuple[AsyncUser, str, list[str]]:
    """Enrol TOTP for the signed-in user; return the user, the secret and the first backup codes."""
    user = await fapi.get_user()
    created = await user.create_totp()
    assert created.secret is not None
    verified = await user.verify_totp(code=totp_code(created.secret, at=clock()))
    assert verified.backup_codes is not None
    clock.advance(30)  # the enrolment code's step is spent
    return user, created.secret, verified.backup_codes


async def _mfa_sign_in(fake: FakeFrontendAPI) -> Any:
    fapi = fake.frontend()
    return await fapi.sign_in(identifier=EMAIL, password=PASSWORD)


def _wrong(code: str) -> str:
    """A six-digit code that differs from ``code``."""
    return str((int(code) + 1) % 1_000_000).zfill(6)


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


class TestPublicSurface:
    """The module's helpers."""

    def test_totp_code_is_the_otp_function(self) -> None:
        """totp_code is re-exported from totpkit.otp."""
        assert testing.totp_code is otp.totp_code
        assert testing.__all__ == ("FakeFrontendAPI", "ManualClock", "totp_code")

    def test_manual_clock_moves_only_when_told(self) -> None:
        """ManualClock returns ``now`` until it is set or advanced."""
        clock = ManualClock(START)
        assert clock() == clock() == START
        clock.advance(30)
        assert clock() == START + 30
        clock.now = 5.0
        assert clock() == 5.0

    def test_routes_are_named(self, fake: FakeFrontendAPI) -> None:
        """Every documented route name exists on the router."""
        for name in FakeFrontendAPI.ROUTE_NAMES:
            assert fake.router[name].name == name

    def test_add_user_rejects_duplicates_and_bad_secrets(self, fake: FakeFrontendAPI) -> None:
        """A taken email raises ValueError; a non-base32 secret raises InvalidSecretError."""
        fake.add_user(EMAIL, PASSWORD)
        with pytest.raises(ValueError, match="already exists"):
            fake.add_user(EMAIL.upper(), PASSWORD)
        with pytest.raises(otp.InvalidSecretError):
            fake.add_user("other@example.com", PASSWORD, totp_secret="not base32!")

    async def test_aclose_closes_handed_out_clients(self, clock: ManualClock) -> None:
        """Clients from http_client/frontend/backend are closed with the fake."""
        fake = FakeFrontendAPI(clock=clock)
        http_client = fake.http_client()
        fapi = fake.frontend()
        await fake.aclose()
        assert http_client.is_closed
        assert fapi._http.is_closed
        assert repr(fake) == "<FakeFrontendAPI 'https://fapi.totpkit.test' users=0>"

    async def test_usable_without_context_manager(self, clock: ManualClock) -> None:
        """A plain FakeFrontendAPI object answers requests too."""
        fake = FakeFrontendAPI("https://other.test/prefix", clock=clock)
        env = await fake.frontend().get_environment()
        assert env == build_environment(application_name="totpkit", development=True)
        await fake.aclose()


class TestDocuments:
    """Environment and JWKS."""

    async def test_environment(self, fake: FakeFrontendAPI, raw: httpx.AsyncClient) -> None:
        """GET /v1/environment is the shared build_environment document, unwrapped."""
        response = await raw.get("/v1/environment")
        expected = build_environment(application_name="totpkit", development=True)
        assert response.json() == json.loads(msgspec.json.encode(expected))
        assert fake.router["environment"].called

    async def test_session_token_verifies_with_jwks(self, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """The session JWT is RS256 over the published key, with the documented claims."""
        session = await fapi.get_session()
        jwt = await session.get_token()
        jwks = await fapi.get_jwks()
        header, claims = _verify_rs256(jwt, jwks)
        assert header == {"alg": "RS256", "kid": jwks.keys[0].kid, "typ": "JWT"}
        assert jwks.keys[0].kid.startswith("ins_")
        user = await fapi.get_user()
        now = int(clock())
        assert claims == {
            "exp": now + 60,
            "fva": [0, -1],
            "iat": now,
            "iss": "https://fapi.totpkit.test",
            "jti": claims["jti"],
            "nbf": now - 10,
            "sid": session.id,
            "sub": user.id,
            "v": 2,
        }


def _verify_rs256(jwt: str, jwks: JWKS) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a JWT's PKCS#1 v1.5 SHA-256 signature against the JWKS, in pure Python."""
    header_b64, claims_b64, signature_b64 = jwt.split(".")
    key = jwks.keys[0]
    n, e = (int.from_bytes(_unb64(value), "big") for value in (key.n, key.e))
    size = (n.bit_length() + 7) // 8
    recovered = pow(int.from_bytes(_unb64(signature_b64), "big"), e, n).to_bytes(size, "big")
    digest = hashlib.sha256(f"{header_b64}.{claims_b64}".encode()).digest()
    assert recovered.endswith(bytes.fromhex("3031300d060960864801650304020105000420") + digest)
    assert recovered.startswith(b"\x00\x01\xff")
    return json.loads(_unb64(header_b64)), json.loads(_unb64(claims_b64))


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class TestSignIn:
    """First-factor sign-in."""

    async def test_complete_without_mfa(self, fake: FakeFrontendAPI) -> None:
        """A user without MFA is signed in at once, case-insensitively, and the client is issued."""
        fake.add_user(EMAIL, PASSWORD)
        fapi = fake.frontend()
        sign_in = await fapi.sign_in(identifier=EMAIL.upper(), password=PASSWORD)
        assert sign_in.status == "complete"
        assert fapi.client_token is not None
        assert fapi.session_id == sign_in.created_session_id
        client = fapi.last_client
        assert client is not None
        assert client.sign_in is None
        assert client.last_active_session_id == sign_in.created_session_id
        assert re.fullmatch(r"sess_[0-9A-Za-z]{27}", sign_in.created_session_id or "")

    async def test_password_as_first_factor(self, fake: FakeFrontendAPI) -> None:
        """Without a password the sign-in needs a first factor, then completes with it."""
        fake.add_user(EMAIL, PASSWORD)
        fapi = fake.frontend()
        sign_in = await fapi.sign_in(identifier=EMAIL)
        assert sign_in.status == "needs_first_factor"
        assert [f.strategy for f in sign_in.data.supported_first_factors or []] == ["password"]
        assert fapi.last_client is not None
        assert fapi.last_client.sign_in == sign_in.data
        done = await sign_in.attempt_first_factor(password=PASSWORD)
        assert done.status == "complete"
        with pytest.raises(BadRequestError) as caught:
            await done.attempt_first_factor(password=PASSWORD)
        assert caught.value.code == "client_state_invalid"

    async def test_wrong_password(self, fake: FakeFrontendAPI) -> None:
        """A wrong password is a 422 naming the password field, and creates nothing."""
        fake.add_user(EMAIL, PASSWORD)
        fapi = fake.frontend()
        with pytest.raises(UnprocessableEntityError) as caught:
            await fapi.sign_in(identifier=EMAIL, password="wrong")
        error = caught.value.errors[0]
        assert (error.code, error.meta) == ("form_password_incorrect", {"param_name": "password"})
        assert error.message == error.long_message == "Password is incorrect. Try again, or use another method."
        assert fapi.client_token is None
        assert re.fullmatch(r"[0-9a-f]{32}", caught.value.clerk_trace_id or "")

    async def test_unknown_identifier(self, fake: FakeFrontendAPI) -> None:
        """An unknown email is form_identifier_not_found on the identifier."""
        with pytest.raises(UnprocessableEntityError) as caught:
            await fake.frontend().sign_in(identifier="nobody@example.com", password="x")
        assert caught.value.code == "form_identifier_not_found"
        assert caught.value.errors[0].meta == {"param_name": "identifier"}

    async def test_missing_identifier_and_bad_strategy(self, fake: FakeFrontendAPI, raw: httpx.AsyncClient) -> None:
        """Raw requests: no identifier is form_param_missing; another strategy is form_param_value_invalid."""
        headers = {"authorization": ""}
        missing = await raw.post("/v1/client/sign_ins?_is_native=1", headers=headers, data={"password": "x"})
        assert missing.status_code == 422
        assert _errors(missing)[0] == {
            "message": "is missing",
            "long_message": "identifier must be included.",
            "code": "form_param_missing",
            "meta": {"param_name": "identifier"},
        }
        bad = await raw.post(
            "/v1/client/sign_ins?_is_native=1", headers=headers, data={"identifier": EMAIL, "strategy": "sms"}
        )
        assert _errors(bad)[0]["long_message"] == "sms does not match one of the allowed values for parameter strategy"


class TestEnrolment:
    """Enrol, regenerate, disable."""

    async def test_full_enrolment_flow(self, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """create -> verify -> backup codes -> disable, with the user flags following along."""
        user = await fapi.get_user()
        created = await user.create_totp()
        assert created.verified is False
        assert created.secret is not None
        assert re.fullmatch(r"[A-Z2-7]{32}", created.secret)
        assert created.uri == (
            "otpauth://totp/totpkit%20%28development%29:jane@example.com?algorithm=SHA1&digits=6"
            f"&issuer=totpkit+%28development%29&period=30&secret={created.secret}"
        )
        assert user.totp_enabled is False

        verified = await user.verify_totp(code=totp_code(created.secret, at=clock()))
        assert (verified.verified, verified.secret, verified.uri) == (True, None, None)
        assert verified.backup_codes is not None
        assert len(verified.backup_codes) == 10
        assert all(re.fullmatch(r"[abcdefghjkmnpqrstuvwxyz23456789]{10}", c) for c in verified.backup_codes)
        assert (user.totp_enabled, user.backup_code_enabled, user.two_factor_enabled) == (True, True, True)
        assert user.data.mfa_enabled_at == int(clock() * 1000)

        codes = await user.create_backup_code()
        assert len(codes.codes) == 10
        assert codes.id.startswith("bcode_")
        assert set(codes.codes).isdisjoint(verified.backup_codes)

        deleted = await user.disable_totp()
        assert deleted == DeletedObject(object="totp", id=created.id, deleted=True)
        assert (user.totp_enabled, user.backup_code_enabled, user.two_factor_enabled) == (False, False, False)
        assert user.data.mfa_disabled_at == int(clock() * 1000)
        await user.reload()
        assert user.totp_enabled is False

    async def test_create_replaces_pending_totp(self, fapi: AsyncFrontend) -> None:
        """A second create before verifying gives a new id and secret."""
        user = await fapi.get_user()
        first, second = await user.create_totp(), await user.create_totp()
        assert first.id != second.id
        assert first.secret != second.secret

    async def test_create_when_enabled(self, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """Creating or verifying again once enrolled is totp_already_enabled."""
        user, _, _ = await _enrol(fapi, clock)
        for call in (user.create_totp(), user.verify_totp(code="123456")):
            with pytest.raises(BadRequestError) as caught:
                await call
            assert str(caught.value).startswith(
                "Error code: 400 - totp_already_enabled: TOTP is already enabled on your account"
            )

    async def test_verify_errors(self, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """No pending TOTP is a 404; a wrong code is form_code_incorrect."""
        user = await fapi.get_user()
        with pytest.raises(NotFoundError) as missing:
            await user.verify_totp(code="123456")
        assert missing.value.code == "resource_not_found"
        created = await user.create_totp()
        assert created.secret is not None
        wrong = _wrong(totp_code(created.secret, at=clock()))
        with pytest.raises(UnprocessableEntityError) as caught:
            await user.verify_totp(code=wrong)
        assert caught.value.errors[0].long_message == "Incorrect code"
        assert caught.value.errors[0].meta == {"param_name": "code"}

    async def test_backup_codes_need_totp(self, fapi: AsyncFrontend) -> None:
        """Backup codes without a verified TOTP are backup_codes_not_available."""
        user = await fapi.get_user()
        with pytest.raises(BadRequestError) as caught:
            await user.create_backup_code()
        assert caught.value.code == "backup_codes_not_available"

    async def test_disable_without_totp(self, fapi: AsyncFrontend) -> None:
        """Disabling when there is no TOTP is resource_not_found."""
        user = await fapi.get_user()
        with pytest.raises(NotFoundError):
            await user.disable_totp()

    async def test_me_requires_session(self, fake: FakeFrontendAPI) -> None:
        """Without a signed-in session /v1/me is 401 authentication_invalid."""
        with pytest.raises(AuthenticationError) as caught:
            await fake.frontend().get_user()
        assert caught.value.errors[0].long_message == (
            "Unable to authenticate the request, you need to supply an active session"
        )


class TestCodeAcceptance:
    """Window and replay protection."""

    async def test_replayed_code_is_rejected(
        self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock
    ) -> None:
        """The code used for enrolment cannot sign in within the same step."""
        user = await fapi.get_user()
        created = await user.create_totp()
        assert created.secret is not None
        code = totp_code(created.secret, at=clock())
        await user.verify_totp(code=code)
        sign_in = await _mfa_sign_in(fake)
        with pytest.raises(UnprocessableEntityError) as caught:
            await sign_in.attempt_second_factor(strategy="totp", code=code)
        assert caught.value.code == "form_code_incorrect"

    async def test_each_step_once(self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """A fresh code works once; the same code fails on a second sign-in."""
        _, secret, _ = await _enrol(fapi, clock)
        code = totp_code(secret, at=clock())
        first = await _mfa_sign_in(fake)
        assert (await first.attempt_second_factor(strategy="totp", code=code)).status == "complete"
        second = await _mfa_sign_in(fake)
        with pytest.raises(UnprocessableEntityError):
            await second.attempt_second_factor(strategy="totp", code=code)

    @pytest.mark.parametrize(("offset", "accepted"), [(-30, True), (30, True), (-60, False), (60, False)])
    async def test_window(
        self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock, offset: int, accepted: bool
    ) -> None:
        """Codes of the neighbouring steps work; two steps away do not."""
        _, secret, _ = await _enrol(fapi, clock)
        clock.advance(90)
        sign_in = await _mfa_sign_in(fake)
        code = totp_code(secret, at=clock() + offset)
        if accepted:
            assert (await sign_in.attempt_second_factor(strategy="totp", code=code)).status == "complete"
        else:
            with pytest.raises(UnprocessableEntityError):
                await sign_in.attempt_second_factor(strategy="totp", code=code)

    async def test_older_step_after_newer_is_rejected(
        self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock
    ) -> None:
        """Once step n is used, step n-1 (still in the window) is refused."""
        _, secret, _ = await _enrol(fapi, clock)
        clock.advance(60)
        first = await _mfa_sign_in(fake)
        await first.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock()))
        second = await _mfa_sign_in(fake)
        with pytest.raises(UnprocessableEntityError):
            await second.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock() - 30))


class TestSecondFactor:
    """Signing in with TOTP or a backup code."""

    async def test_needs_second_factor(self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """An enrolled user gets needs_second_factor with totp and backup_code offered."""
        await _enrol(fapi, clock)
        sign_in = await _mfa_sign_in(fake)
        assert sign_in.status == "needs_second_factor"
        assert [f.strategy for f in sign_in.supported_second_factors] == ["totp", "backup_code"]
        assert sign_in.data.first_factor_verification is not None
        assert sign_in.data.first_factor_verification.status == "verified"
        assert sign_in.data.second_factor_verification is None

    async def test_totp_completes_with_verification(
        self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock
    ) -> None:
        """A wrong code counts an attempt; the right one completes and opens a session."""
        _, secret, _ = await _enrol(fapi, clock)
        device = fake.frontend()
        sign_in = await device.sign_in(identifier=EMAIL, password=PASSWORD)
        with pytest.raises(UnprocessableEntityError):
            await sign_in.attempt_second_factor(strategy="totp", code=_wrong(totp_code(secret, at=clock())))
        failed = await sign_in.reload()
        assert failed.data.second_factor_verification is not None
        assert (failed.data.second_factor_verification.status, failed.data.second_factor_verification.attempts) == (
            "unverified",
            1,
        )
        done = await sign_in.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock()))
        assert done.status == "complete"
        verification = done.data.second_factor_verification
        assert verification is not None
        assert (
            verification.object,
            verification.status,
            verification.strategy,
            verification.attempts,
            verification.expire_at,
        ) == (
            "verification_totp",
            "verified",
            "totp",
            2,
            None,
        )
        session = await device.get_session()
        assert session.id == done.created_session_id
        assert session.data.factor_verification_age == [0, 0]
        assert (await device.get_user()).totp_enabled

    async def test_backup_code_single_use(self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """A backup code works once, ignoring case, spaces and dashes."""
        _, _, codes = await _enrol(fapi, clock)
        sign_in = await _mfa_sign_in(fake)
        spaced = f"{codes[0][:5].upper()}-{codes[0][5:]} "
        done = await sign_in.attempt_second_factor(strategy="backup_code", code=spaced)
        assert done.data.second_factor_verification is not None
        assert done.data.second_factor_verification.object == "verification_backup_code"
        again = await _mfa_sign_in(fake)
        with pytest.raises(UnprocessableEntityError) as caught:
            await again.attempt_second_factor(strategy="backup_code", code=codes[0])
        assert caught.value.code == "form_code_incorrect"
        assert (await again.attempt_second_factor(strategy="backup_code", code=codes[1])).status == "complete"

    async def test_strategy_errors(
        self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock, raw: httpx.AsyncClient
    ) -> None:
        """Unknown strategy, finished sign-in and another client's sign-in each have their error."""
        _, secret, _ = await _enrol(fapi, clock)
        sign_in = await _mfa_sign_in(fake)
        with pytest.raises(UnprocessableEntityError) as invalid:
            await sign_in.attempt_second_factor(strategy="sms", code="123456")  # type: ignore[arg-type]
        assert invalid.value.code == "form_param_value_invalid"
        done = await sign_in.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock()))
        with pytest.raises(BadRequestError) as state:
            await done.attempt_second_factor(strategy="totp", code="123456")
        assert state.value.code == "client_state_invalid"
        foreign = await raw.post(
            f"/v1/client/sign_ins/{sign_in.id}/attempt_second_factor?_is_native=1",
            headers={"authorization": ""},
            data={"strategy": "totp", "code": "1"},
        )
        assert (foreign.status_code, _errors(foreign)[0]["code"]) == (404, "resource_not_found")

    async def test_strategy_the_user_lacks(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """backup_code for a user whose codes are all gone is strategy_for_user_invalid."""
        secret = otp_secret()
        fake.add_user(EMAIL, PASSWORD, totp_secret=secret)
        sign_in = await _mfa_sign_in(fake)
        assert [f.strategy for f in sign_in.supported_second_factors] == ["totp"]
        with pytest.raises(BadRequestError) as caught:
            await sign_in.attempt_second_factor(strategy="backup_code", code="abcdefghjk")
        assert caught.value.code == "strategy_for_user_invalid"
        assert caught.value.errors[0].message == "Invalid verification strategy"


def otp_secret() -> str:
    return base64.b32encode(bytes(range(20))).decode().rstrip("=")


class TestSessions:
    """Session lifecycle."""

    async def test_touch_end_and_sign_out(self, fake: FakeFrontendAPI, fapi: AsyncFrontend) -> None:
        """Ending the session signs /v1/me out; tokens for it are then refused."""
        session = await fapi.get_session()
        await session.touch()
        assert session.status == "active"
        await session.end()
        assert session.status == "ended"
        with pytest.raises(AuthenticationError):
            await fapi.get_user()
        with pytest.raises(AuthenticationError):
            await session.get_token()

    async def test_sign_out_ends_every_session(self, fapi: AsyncFrontend) -> None:
        """DELETE /v1/client leaves a client with no sessions and no last active session."""
        session = await fapi.get_session()
        client = await fapi.sign_out()
        assert client is not None
        assert (client.sessions, client.last_active_session_id, client.sign_in) == ([], None, None)
        await session.reload()
        assert session.status == "ended"
        with pytest.raises(AuthenticationError):
            await fapi.get_user()

    async def test_unknown_session(self, fapi: AsyncFrontend) -> None:
        """A session id of no session of this client is a 404."""
        with pytest.raises(NotFoundError):
            await fapi.get_session("sess_nope")

    async def test_resume_with_client_token(self, fake: FakeFrontendAPI, fapi: AsyncFrontend) -> None:
        """A new frontend given the token continues the same client and session."""
        resumed = fake.frontend(client_token=fapi.client_token)
        assert (await resumed.get_user()).primary_email_address == EMAIL


class TestTransport:
    """Wire details the SDK does not exercise on its own."""

    async def test_error_envelope(self, raw: httpx.AsyncClient) -> None:
        """Errors are {errors, meta, clerk_trace_id} with a 32-hex trace id."""
        response = await raw.get("/v1/me?_is_native=1", headers={"authorization": ""})
        body = response.json()
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
        assert set(body) == {"errors", "meta", "clerk_trace_id"}
        assert body["meta"] == {}
        assert re.fullmatch(r"[0-9a-f]{32}", body["clerk_trace_id"])
        assert body["errors"] == [
            {
                "message": "Invalid authentication",
                "long_message": "Unable to authenticate the request, you need to supply an active session",
                "code": "authentication_invalid",
                "meta": {},
            }
        ]

    async def test_native_requires_authorization_header(self, raw: httpx.AsyncClient) -> None:
        """Native mode without Authorization is 400 request_header_missing."""
        response = await raw.get("/v1/client?_is_native=1")
        assert (response.status_code, _errors(response)[0]["code"]) == (400, "request_header_missing")

    async def test_method_override_slash_and_json(
        self, fake: FakeFrontendAPI, fapi: AsyncFrontend, clock: ManualClock, raw: httpx.AsyncClient
    ) -> None:
        """POST ?_method=DELETE deletes, backup_codes/ is routed, JSON bodies are read."""
        _, _, _ = await _enrol(fapi, clock)
        headers = {"authorization": fapi.client_token or ""}
        regenerated = await raw.post("/v1/me/backup_codes/?_is_native=1", headers=headers)
        assert regenerated.status_code == 200
        assert regenerated.json()["response"]["object"] == "backup_code"
        assert fake.router["backup_codes_create"].call_count == 1
        deleted = await raw.post("/v1/me/totp?_is_native=1&_method=DELETE", headers=headers)
        assert deleted.json()["response"] == {"object": "totp", "id": deleted.json()["response"]["id"], "deleted": True}
        assert fake.router["totp_delete"].call_count == 1
        created = await raw.post("/v1/me/totp?_is_native=1", headers=headers, json={})
        assert created.json()["response"]["verified"] is False
        verify = await raw.post("/v1/me/totp/attempt_verification?_is_native=1", headers=headers, json={"code": "x"})
        assert _errors(verify)[0]["code"] == "form_code_incorrect"

    async def test_malformed_json(self, fapi: AsyncFrontend, raw: httpx.AsyncClient) -> None:
        """A broken JSON body is form_param_format_invalid."""
        headers = {"authorization": fapi.client_token or "", "content-type": "application/json"}
        response = await raw.post("/v1/me/totp/attempt_verification?_is_native=1", headers=headers, content=b"{")
        assert (response.status_code, _errors(response)[0]["code"]) == (422, "form_param_format_invalid")

    async def test_authorization_header_echo(self, fapi: AsyncFrontend, raw: httpx.AsyncClient) -> None:
        """Native answers carry the raw client token; a Bearer prefix on the request is accepted."""
        token = fapi.client_token
        response = await raw.get("/v1/client?_is_native=1", headers={"authorization": f"Bearer {token}"})
        assert response.headers["authorization"] == token
        assert response.json()["client"] == response.json()["response"]

    async def test_cookie_and_dev_browser(self, fake: FakeFrontendAPI, raw: httpx.AsyncClient) -> None:
        """Browsers are identified by the __client cookie or a dev-browser token."""
        fake.add_user(EMAIL, PASSWORD)
        signed_in = await raw.post("/v1/client/sign_ins", data={"identifier": EMAIL, "password": PASSWORD})
        assert "__client=" in signed_in.headers["set-cookie"]
        assert (await raw.get("/v1/me")).status_code == 200  # httpx kept the cookie
        dev = (await raw.post("/v1/dev_browser")).json()["id"]
        raw.cookies.clear()
        signed_in = await raw.post(
            f"/v1/client/sign_ins?__clerk_db_jwt={dev}", data={"identifier": EMAIL, "password": PASSWORD}
        )
        reissued = signed_in.headers["clerk-db-jwt"]  # a completed sign-in re-issues the dev browser
        assert (await raw.get(f"/v1/me?__clerk_db_jwt={reissued}")).status_code == 200
        assert (await raw.get(f"/v1/me?__clerk_db_jwt={dev}")).status_code == 401
        unknown = await raw.get("/v1/me?__clerk_db_jwt=nope")
        assert _errors(unknown)[0]["code"] == "dev_browser_unauthenticated"

    async def test_unknown_path(self, raw: httpx.AsyncClient) -> None:
        """Anything unrouted is 404 resource_not_found."""
        response = await raw.get("/v1/nowhere")
        assert (response.status_code, _errors(response)[0]["code"]) == (404, "resource_not_found")


class TestBackendAPI:
    """BAPI users in the fake."""

    async def test_create_and_get_user_with_imported_totp(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """An imported secret is a verified TOTP usable at sign-in."""
        bapi = fake.backend()
        secret = otp_secret()
        created = await bapi.create_user(
            email_address=[EMAIL], password=PASSWORD, totp_secret=secret, backup_codes=["aaaaaaaaaa"]
        )
        assert (created.totp_enabled, created.backup_code_enabled, created.two_factor_enabled) == (True, True, True)
        assert (await bapi.get_user(created.id)) == created
        sign_in = await _mfa_sign_in(fake)
        assert (
            await sign_in.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock()))
        ).status == "complete"

    async def test_errors(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """Wrong key 401, unknown user 404, taken email and bad secret 422."""
        bapi = fake.backend()
        await bapi.create_user(email_address=[EMAIL])
        with pytest.raises(NotFoundError):
            await bapi.get_user("user_missing")
        with pytest.raises(UnprocessableEntityError) as taken:
            await bapi.create_user(email_address=[EMAIL])
        assert taken.value.code == "form_identifier_exists"
        with pytest.raises(UnprocessableEntityError) as secret:
            await bapi.create_user(email_address=["b@example.com"], totp_secret="!!")
        assert secret.value.code == "invalid_totp_secret_code"
        with pytest.raises(UnprocessableEntityError) as missing:
            await bapi.create_user(email_address=[])
        assert missing.value.code == "form_param_missing"
        wrong = AsyncBackend(fake.base_url, secret_key="sk_wrong", http_client=fake.http_client())
        with pytest.raises(AuthenticationError):
            await wrong.get_user("user_x")


class TestLockout:
    """Ten consecutive wrong codes lock the user for an hour, like the server; a success resets the count."""

    async def test_wrong_second_factor_codes_lock_the_user(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """The tenth wrong code answers 403 user_locked; even a right code is refused until the lock ends."""
        secret = otp_secret()
        user_id = fake.add_user(EMAIL, PASSWORD, totp_secret=secret)
        bapi = fake.backend()
        sign_in = await _mfa_sign_in(fake)
        wrong = _wrong(totp_code(secret, at=clock()))
        for remaining in range(9, 0, -1):
            with pytest.raises(UnprocessableEntityError):
                await sign_in.attempt_second_factor(strategy="totp", code=wrong)
            assert (await bapi.get_user(user_id)).verification_attempts_remaining == remaining
        with pytest.raises(PermissionDeniedError) as locked:
            await sign_in.attempt_second_factor(strategy="totp", code=wrong)
        error = locked.value.errors[0]
        assert (error.code, error.message, error.meta) == (
            "user_locked",
            "Account locked",
            {"lockout_expires_in_seconds": 3600},
        )
        assert error.long_message.startswith("Your account is locked. You will be able to try again in 60 minutes.")
        user = await bapi.get_user(user_id)
        assert (user.locked, user.lockout_expires_in_seconds, user.verification_attempts_remaining) == (True, 3600, 0)

        clock.advance(600)
        with pytest.raises(PermissionDeniedError) as still:
            await sign_in.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock()))
        assert still.value.errors[0].meta == {"lockout_expires_in_seconds": 3000}
        with pytest.raises(PermissionDeniedError):
            await _mfa_sign_in(fake)  # a locked user cannot start a sign-in either

        clock.advance(3000)
        done = await sign_in.attempt_second_factor(strategy="totp", code=totp_code(secret, at=clock()))
        assert done.status == "complete"
        user = await bapi.get_user(user_id)
        assert (user.locked, user.lockout_expires_in_seconds, user.verification_attempts_remaining) == (False, None, 10)

    async def test_wrong_enrolment_codes_count(self, fapi: AsyncFrontend, clock: ManualClock) -> None:
        """A wrong enrolment code costs an attempt; verifying resets the count."""
        user = await fapi.get_user()
        assert (user.data.locked, user.data.verification_attempts_remaining) == (False, 10)
        created = await user.create_totp()
        assert created.secret is not None
        for _ in range(2):
            with pytest.raises(UnprocessableEntityError):
                await user.verify_totp(code=_wrong(totp_code(created.secret, at=clock())))
        await user.reload()
        assert user.data.verification_attempts_remaining == 8
        await user.verify_totp(code=totp_code(created.secret, at=clock()))
        await user.reload()
        assert user.data.verification_attempts_remaining == 10

    async def test_malformed_code_also_counts(self, fake: FakeFrontendAPI, fapi: AsyncFrontend) -> None:
        """A code that is not six digits is just a wrong code (422, counted), and a wrong password is not counted."""
        user = await fapi.get_user()
        await user.create_totp()
        with pytest.raises(UnprocessableEntityError) as caught:
            await user.verify_totp(code="not-a-code")
        assert caught.value.code == "form_code_incorrect"
        with pytest.raises(UnprocessableEntityError):
            await fake.frontend().sign_in(identifier=EMAIL, password="wrong password")
        await user.reload()
        assert user.data.verification_attempts_remaining == 9


class TestServerParity:
    """Wire details the fake shares with the server: CORS, 405s, body limits, media types."""

    async def test_cors_headers_are_echoed(self, raw: httpx.AsyncClient) -> None:
        """A request from an accepted Origin (by default a loopback one) gets the CORS answer headers, errors
        included, with a trace id header; a refused origin gets none, and its POSTs 400 origin_invalid."""
        origin = "http://localhost:3000"
        for path in ("/v1/client", "/v1/environment", "/v1/nowhere"):
            response = await raw.get(path, headers={"Origin": origin})
            assert response.headers["access-control-allow-origin"] == origin
            assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["x-clerk-trace-id"] == response.json()["clerk_trace_id"]
        assert "access-control-allow-origin" not in (await raw.get("/v1/client")).headers
        refused = await raw.post("/v1/client", headers={"Origin": "https://app.example.com"})
        assert refused.status_code == 400
        assert _errors(refused)[0]["code"] == "origin_invalid"
        assert "access-control-allow-origin" not in refused.headers
        opaque = await raw.get("/v1/environment", headers={"Origin": "null"})
        assert "access-control-allow-origin" not in opaque.headers

    async def test_methods(self, fake: FakeFrontendAPI, raw: httpx.AsyncClient) -> None:
        """An unsupported method or _method override is 405; OPTIONS answers 204 with Allow."""
        override = await raw.post("/v1/me/totp?_method=PUT")
        assert (override.status_code, _errors(override)[0]["long_message"]) == (
            405,
            "The PUT method is not allowed on this path.",
        )
        assert (await raw.get("/v1/me/totp")).status_code == 405
        assert (await raw.post("/v1/environment")).status_code == 405
        options = await raw.options("/v1/me/totp")
        assert (options.status_code, options.headers["allow"]) == (204, "OPTIONS, POST")
        assert (await raw.get("/v1/client/")).status_code == 200

    async def test_bodies(self, fapi: AsyncFrontend, raw: httpx.AsyncClient) -> None:
        """413 over 64 KiB, 415 for other media types, 422 on the field for a wrongly typed JSON value."""
        headers = {"authorization": fapi.client_token or ""}
        url = "/v1/me/totp/attempt_verification?_is_native=1"
        too_large = await raw.post(url, headers=headers, data={"code": "1" * 70_000})
        assert (too_large.status_code, _errors(too_large)[0]["code"]) == (413, "request_body_too_large")
        text = await raw.post(url, headers={**headers, "content-type": "text/plain"}, content=b"code=1")
        assert (text.status_code, _errors(text)[0]["code"]) == (415, "unsupported_content_type")
        typed = await raw.post(url, headers=headers, json={"code": 123456})
        assert _errors(typed)[0] == {
            "message": "is invalid",
            "long_message": "code must be a string.",
            "code": "form_param_format_invalid",
            "meta": {"param_name": "code"},
        }
