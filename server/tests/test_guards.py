"""Session guards on the host app's own routes: who gets in, who gets 401, who gets 403.

Every test runs a host app (its own routes plus the plugin) in process, signs users in through the
real Frontend API and mints tokens with ``POST /v1/client/sessions/{id}/tokens``; forged tokens are
built by hand, some signed with the plugin's real key to reach the checks behind the signature.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, TOTPKitPlugin, VerifiedSession, requires_second_factor, requires_session
from totpkit_server.core.tokens import SigningKey, sign_jwt

pytestmark = pytest.mark.both_backends

BASE_URL = "http://testserver.local"
ISSUER = BASE_URL


def _session_view(session: VerifiedSession) -> dict[str, object]:
    return {"user_id": session.user_id, "session_id": session.session_id, "fva": list(session.fva or [])}


@get("/api/me", guards=[requires_session], sync_to_thread=False)
def me(verified_session: NamedDependency[VerifiedSession]) -> dict[str, object]:
    """Any signed-in user."""
    return _session_view(verified_session)


@get("/api/whoami", sync_to_thread=False)
def whoami(verified_session: NamedDependency[VerifiedSession]) -> dict[str, object]:
    """No guard: asking for the verified session is enough to require one."""
    return _session_view(verified_session)


@post("/api/payouts", guards=[requires_second_factor(max_age=10)], status_code=200, sync_to_thread=False)
def payouts(verified_session: NamedDependency[VerifiedSession]) -> dict[str, object]:
    """A second factor within 10 minutes."""
    return _session_view(verified_session)


@get("/api/settings", guards=[requires_second_factor(max_age=timedelta(minutes=30))], sync_to_thread=False)
def settings() -> dict[str, str]:
    """A second factor within 30 minutes."""
    return {"ok": "yes"}


@get("/api/public", sync_to_thread=False)
def public() -> dict[str, str]:
    """Unprotected."""
    return {"ok": "yes"}


def host_app(config: TOTPKitConfig) -> Litestar:
    """The host app: its own routes and the plugin under the same root."""
    return Litestar(route_handlers=[me, whoami, payouts, settings, public], plugins=[TOTPKitPlugin(config)])


@pytest.fixture
def app(config: TOTPKitConfig) -> Litestar:
    """Overrides conftest's app: the Kit fixture then drives the host app."""
    return host_app(config)


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    """An RSA key the plugin does not know (generated once per module)."""
    return SigningKey.generate("ins_rotatedsigningkey000000000")


# --- helpers -------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def mint(kit: Any, device: Any) -> str:
    """A fresh session token for the device's active session."""
    session_id = await kit.active_session_id(device)
    response = await device.post(f"/v1/client/sessions/{session_id}/tokens")
    assert response.status_code == 200, response.text
    return str(response.json()["jwt"])


async def browser_token(kit: Any, origin: str) -> str:
    """A token minted for a browser at ``origin`` (dev-browser mode), so it carries ``azp``."""
    email = kit.new_email()
    await kit.create_user(email)
    params = {"__clerk_db_jwt": (await kit.http.post("/v1/dev_browser")).json()["id"]}
    headers = {"Origin": origin}
    form = {"identifier": email, "password": "correct horse battery staple"}
    signed = await kit.http.post("/v1/client/sign_ins", params=params, data=form, headers=headers)
    assert signed.status_code == 200, signed.text
    session_id = signed.json()["response"]["created_session_id"]
    params = {"__clerk_db_jwt": signed.headers["clerk-db-jwt"]}  # the dev browser re-issued at sign-in
    minted = await kit.http.post(f"/v1/client/sessions/{session_id}/tokens", params=params, headers=headers)
    assert minted.status_code == 200, minted.text
    return str(minted.json()["jwt"])


async def signed_in_token(kit: Any) -> tuple[str, Any]:
    """A password-only user's session token and device."""
    _, device = await kit.user_and_device()
    return await mint(kit, device), device


async def call(
    http: httpx.AsyncClient, token: str | None, path: str = "/api/me", method: str = "GET"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.request(method, path, headers=headers)


def assert_signed_out(kit: Any, response: httpx.Response, reason: str) -> None:
    """401 authentication_invalid in Clerk's format, with Clerk's auth status and reason headers."""
    kit.error(response, 401, "authentication_invalid")
    assert response.headers["x-clerk-auth-status"] == "signed-out"
    assert response.headers["x-clerk-auth-reason"] == reason, response.headers


# --- who gets in ---------------------------------------------------------------------------------


class TestAcceptedTokens:
    """A real token of an active session opens guarded routes, from the header or the cookie."""

    async def test_bearer_header(self, kit: Any) -> None:
        """The handler sees the token's user, session and fva."""
        token, device = await signed_in_token(kit)
        response = await call(kit.http, token)
        assert response.status_code == 200, response.text
        me_json = await device.me()
        assert response.json() == {
            "user_id": me_json["id"],
            "session_id": await kit.active_session_id(device),
            "fva": [0, -1],
        }

    async def test_session_cookie(self, kit: Any) -> None:
        """The ``__session`` cookie (what clerk-js writes) works like the header."""
        token, _ = await signed_in_token(kit)
        response = await kit.http.get("/api/me", headers={"Cookie": f"__session={token}"})
        assert response.status_code == 200, response.text

    async def test_header_wins_over_cookie(self, kit: Any) -> None:
        """With both, the Authorization header is the one verified."""
        token, _ = await signed_in_token(kit)
        response = await kit.http.get(
            "/api/me", headers={"Authorization": "Bearer garbage", "Cookie": f"__session={token}"}
        )
        assert_signed_out(kit, response, "token-invalid")

    async def test_dependency_alone_requires_a_session(self, kit: Any) -> None:
        """A handler that only asks for the verified session is protected too."""
        token, _ = await signed_in_token(kit)
        assert (await call(kit.http, token, "/api/whoami")).status_code == 200
        assert_signed_out(kit, await call(kit.http, None, "/api/whoami"), "session-token-missing")

    async def test_unprotected_routes_stay_open(self, kit: Any) -> None:
        """Routes without the guard or the dependency ignore tokens, even broken ones."""
        response = await call(kit.http, "garbage", "/api/public")
        assert response.json() == {"ok": "yes"}

    async def test_within_leeway(self, kit: Any) -> None:
        """Four seconds after exp the token still passes (5 s of clock skew)."""
        token, _ = await signed_in_token(kit)
        kit.clock.advance(claims_of(token)["exp"] - kit.clock.now + 4)
        assert (await call(kit.http, token)).status_code == 200

    async def test_allowed_origin(self, kit: Any) -> None:
        """A token minted for an allowed origin carries it in azp and passes."""
        kit.config.allowed_origins = ("http://app.example",)
        token = await browser_token(kit, "http://app.example")
        assert claims_of(token)["azp"] == "http://app.example"
        assert (await call(kit.http, token)).status_code == 200


# --- who gets 401 --------------------------------------------------------------------------------


class TestRefusedTokens:
    """Forged, expired, misdirected and revoked tokens get 401 authentication_invalid."""

    async def test_no_token(self, kit: Any) -> None:
        assert_signed_out(kit, await call(kit.http, None), "session-token-missing")

    async def test_refusals_grant_no_cross_origin_access(self, kit: Any) -> None:
        """Host routes keep their own CORS policy: the refusal does not echo the Frontend API's."""
        token, _ = await signed_in_token(kit)
        for path, method, auth in (("/api/me", "GET", None), ("/api/payouts", "POST", token)):
            headers = {"Origin": "http://evil.example", **({"Authorization": f"Bearer {auth}"} if auth else {})}
            response = await kit.http.request(method, path, headers=headers)
            assert response.status_code in (401, 403), response.text
            assert "access-control-allow-origin" not in response.headers
            assert "access-control-allow-credentials" not in response.headers

    @pytest.mark.parametrize(
        "token", ["garbage", "a.b.c", "a.b.c.d", "Bearer", "x" * 70_000, "é.é.é", "e30.\x00.e30"], ids=lambda t: t[:12]
    )
    async def test_garbage(self, kit: Any, token: str) -> None:
        """Anything that is not a compact JWS is refused as token-invalid, never a 5xx."""
        response = await kit.http.get("/api/me", headers={"Authorization": f"Bearer {token}".encode()})
        assert_signed_out(kit, response, "token-invalid")

    async def test_header_without_alg(self, kit: Any) -> None:
        """A well-formed token whose header names no algorithm."""
        assert_signed_out(kit, await call(kit.http, "e30.e30.e30"), "token-invalid-algorithm")

    async def test_wrong_key_same_kid(self, kit: Any, other_key: SigningKey) -> None:
        """Real claims re-signed by a key the plugin does not have, under the plugin's kid."""
        token, _ = await signed_in_token(kit)
        impostor = SigningKey(kid_of(token), other_key.private_key)
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims_of(token), impostor)), "token-invalid-signature")

    async def test_unknown_kid(self, kit: Any, other_key: SigningKey) -> None:
        """A key id that is not published."""
        token, _ = await signed_in_token(kit)
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims_of(token), other_key)), "jwk-kid-mismatch")

    async def test_alg_none(self, kit: Any) -> None:
        """An unsigned token with the real kid and real claims."""
        token, _ = await signed_in_token(kit)
        for alg in ("none", "None"):
            forged = f"{compact({'alg': alg, 'kid': kid_of(token), 'typ': 'JWT'})}.{token.split('.')[1]}."
            assert_signed_out(kit, await call(kit.http, forged), "token-invalid")
            forged_with_sig = f"{forged}AAAA"
            assert_signed_out(kit, await call(kit.http, forged_with_sig), "token-invalid-algorithm")

    async def test_hs256_keyed_with_the_public_key(self, kit: Any, signing_key: SigningKey) -> None:
        """HMAC-SHA256 keyed with the public PEM, DER or published JWK (the key-confusion attack)."""
        token, _ = await signed_in_token(kit)
        public = signing_key.private_key.public_key()
        jwks = (await kit.http.get("/.well-known/jwks.json")).json()
        secrets = [
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
            public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
            json.dumps(jwks["keys"][0]).encode(),
        ]
        for secret in secrets:
            for alg in ("HS256", "RS256"):
                signing_input = f"{compact({'alg': alg, 'kid': kid_of(token), 'typ': 'JWT'})}.{token.split('.')[1]}"
                mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
                reason = "token-invalid-algorithm" if alg == "HS256" else "token-invalid-signature"
                assert_signed_out(kit, await call(kit.http, f"{signing_input}.{b64url(mac)}"), reason)

    async def test_tampered_claims(self, kit: Any) -> None:
        """Another user's id spliced into a real token breaks the signature."""
        token, _ = await signed_in_token(kit)
        other_token, _ = await signed_in_token(kit)
        header, _, signature = token.split(".")
        forged = f"{header}.{other_token.split('.')[1]}.{signature}"
        assert_signed_out(kit, await call(kit.http, forged), "token-invalid-signature")

    async def test_expired_beyond_leeway(self, kit: Any) -> None:
        """Five seconds after exp (the leeway) the token is refused."""
        token, _ = await signed_in_token(kit)
        kit.clock.advance(claims_of(token)["exp"] - kit.clock.now + 5)
        assert_signed_out(kit, await call(kit.http, token), "token-expired")

    async def test_not_yet_valid(self, kit: Any, signing_key: SigningKey) -> None:
        """nbf more than 5 s ahead, even with the real key."""
        token, _ = await signed_in_token(kit)
        claims = {**claims_of(token), "nbf": kit.clock.now + 6, "iat": kit.clock.now, "exp": kit.clock.now + 60}
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims, signing_key)), "token-not-active-yet")

    async def test_issued_in_the_future(self, kit: Any, signing_key: SigningKey) -> None:
        """iat more than 5 s ahead, even with the real key."""
        token, _ = await signed_in_token(kit)
        claims = {**claims_of(token), "nbf": kit.clock.now, "iat": kit.clock.now + 30, "exp": kit.clock.now + 90}
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims, signing_key)), "token-iat-in-the-future")

    @pytest.mark.parametrize("issuer", ["https://evil.example", f"{BASE_URL}/", "http://testserver.local:80", None])
    async def test_wrong_issuer(self, kit: Any, signing_key: SigningKey, issuer: str | None) -> None:
        """A token for another issuer (or none), even with the real key."""
        token, _ = await signed_in_token(kit)
        claims = {key: value for key, value in claims_of(token).items() if key != "iss"}
        if issuer is not None:
            claims["iss"] = issuer
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims, signing_key)), "token-invalid-issuer")

    async def test_wrong_authorized_party(self, kit: Any) -> None:
        """A token minted for an origin that is no longer allowed."""
        token = await browser_token(kit, "http://localhost:5173")  # allowed then: a loopback origin
        kit.config.allowed_origins = ("http://app.example",)
        assert_signed_out(kit, await call(kit.http, token), "token-invalid-authorized-parties")

    @pytest.mark.parametrize("claim", ["sub", "sid"])
    async def test_missing_identity(self, kit: Any, signing_key: SigningKey, claim: str) -> None:
        """A correctly signed token without sub or sid is not a session token."""
        token, _ = await signed_in_token(kit)
        claims = {key: value for key, value in claims_of(token).items() if key != claim}
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims, signing_key)), "token-invalid")

    async def test_ended_session(self, kit: Any) -> None:
        """Signing out kills the session's unexpired tokens at once."""
        token, device = await signed_in_token(kit)
        session_id = await kit.active_session_id(device)
        assert (await call(kit.http, token)).status_code == 200
        ended = await device.post(f"/v1/client/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
        assert_signed_out(kit, await call(kit.http, token), "session-inactive")

    async def test_revoked_from_another_device(self, kit: Any) -> None:
        """Revoking a session from another device (Clerk's "Active devices") kills its tokens at once."""
        token, device = await signed_in_token(kit)
        session_id = await kit.active_session_id(device)
        other = await kit.sign_in((await device.me())["email_addresses"][0]["email_address"])
        revoked = await other.post(f"/v1/me/sessions/{session_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        assert_signed_out(kit, await call(kit.http, token), "session-inactive")
        assert (await call(kit.http, await mint(kit, other))).status_code == 200

    async def test_signed_out_client(self, kit: Any) -> None:
        """Deleting the client's sessions (sign out everywhere) does the same."""
        token, device = await signed_in_token(kit)
        assert (await device.delete("/v1/client/sessions")).status_code == 200
        assert_signed_out(kit, await call(kit.http, token), "session-inactive")

    async def test_session_of_another_user(self, kit: Any, signing_key: SigningKey) -> None:
        """A real session id paired with another user's id (signed with the real key) is refused."""
        token, _ = await signed_in_token(kit)
        victim, _ = await signed_in_token(kit)
        claims = {**claims_of(token), "sid": claims_of(victim)["sid"]}
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims, signing_key)), "session-inactive")

    async def test_unknown_session(self, kit: Any, signing_key: SigningKey) -> None:
        """A made-up session id is refused."""
        token, _ = await signed_in_token(kit)
        claims = {**claims_of(token), "sid": "sess_made_up"}
        assert_signed_out(kit, await call(kit.http, sign_jwt(claims, signing_key)), "session-inactive")


# --- who gets 403 --------------------------------------------------------------------------------


def assert_reverification(kit: Any, response: httpx.Response, after_minutes: int) -> None:
    """403 session_reverification_required, with Clerk's hint in errors[0].meta and at the top level."""
    kit.error(response, 403, "session_reverification_required")
    body = response.json()
    hint = {"level": "second_factor", "afterMinutes": after_minutes}
    assert body["errors"][0]["meta"] == {"reverification": hint}
    assert body["clerk_error"] == {
        "type": "forbidden",
        "reason": "reverification-error",
        "metadata": {"reverification": hint},
    }


async def second_factor_device(kit: Any, enrolled: Any) -> Any:
    """A new device signed in as ``enrolled`` with password and TOTP (fva ``[0, 0]``)."""
    device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
    done = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
    assert done.status_code == 200, done.text
    return device


class TestSecondFactorGuard:
    """requires_second_factor demands a second factor verified recently enough, according to fva."""

    async def test_no_token_is_401_not_403(self, kit: Any) -> None:
        assert_signed_out(kit, await call(kit.http, None, "/api/payouts", "POST"), "session-token-missing")

    async def test_password_only_session(self, kit: Any) -> None:
        """A user without MFA never passes: fva[1] is -1."""
        token, _ = await signed_in_token(kit)
        assert_reverification(kit, await call(kit.http, token, "/api/payouts", "POST"), 10)
        assert_reverification(kit, await call(kit.http, token, "/api/settings"), 30)

    async def test_before_and_after_mfa(self, kit: Any) -> None:
        """A token from before the second factor fails; one from a second-factor sign-in passes."""
        enrolled = await kit.enrolled_user()
        before = await mint(kit, enrolled.device)
        assert claims_of(before)["fva"][1] == -1
        assert_reverification(kit, await call(kit.http, before, "/api/payouts", "POST"), 10)
        device = await second_factor_device(kit, enrolled)
        after = await mint(kit, device)
        assert claims_of(after)["fva"] == [0, 0]
        response = await call(kit.http, after, "/api/payouts", "POST")
        assert response.status_code == 200, response.text
        assert response.json()["user_id"] == enrolled.user_id
        assert_reverification(kit, await call(kit.http, before, "/api/payouts", "POST"), 10)

    async def test_stale_second_factor(self, kit: Any) -> None:
        """Ten minutes after the second factor the 10-minute route refuses; the 30-minute one still lets in."""
        enrolled = await kit.enrolled_user()
        device = await second_factor_device(kit, enrolled)
        kit.clock.advance(9 * 60 + 59)
        fresh = await mint(kit, device)
        assert claims_of(fresh)["fva"][1] == 9
        assert (await call(kit.http, fresh, "/api/payouts", "POST")).status_code == 200
        kit.clock.advance(1)
        stale = await mint(kit, device)
        assert claims_of(stale)["fva"][1] == 10
        assert_reverification(kit, await call(kit.http, stale, "/api/payouts", "POST"), 10)
        assert (await call(kit.http, stale, "/api/settings")).status_code == 200

    async def test_token_ages_while_it_lives(self, kit: Any) -> None:
        """fva is the age at minting; a minute later the same token counts a minute older."""
        enrolled = await kit.enrolled_user()
        device = await second_factor_device(kit, enrolled)
        kit.clock.advance(9 * 60 + 30)
        token = await mint(kit, device)
        assert claims_of(token)["fva"][1] == 9
        assert (await call(kit.http, token, "/api/payouts", "POST")).status_code == 200
        kit.clock.advance(60)
        assert_reverification(kit, await call(kit.http, token, "/api/payouts", "POST"), 10)

    async def test_step_up_through_the_frontend_api(self, kit: Any) -> None:
        """After a 403, reverifying the second factor (what clerk-js's dialog does) lets a fresh token in."""
        enrolled = await kit.enrolled_user()
        device = await second_factor_device(kit, enrolled)
        kit.clock.advance(11 * 60)
        assert_reverification(kit, await call(kit.http, await mint(kit, device), "/api/payouts", "POST"), 10)
        session_id = await kit.active_session_id(device)
        started = await device.post(f"/v1/client/sessions/{session_id}/verify", data={"level": "second_factor"})
        assert started.status_code == 200, started.text
        attempt = await device.post(
            f"/v1/client/sessions/{session_id}/verify/attempt_second_factor",
            data={"strategy": "totp", "code": kit.code(enrolled.secret)},
        )
        assert attempt.json()["response"]["status"] == "complete", attempt.text
        assert (await call(kit.http, await mint(kit, device), "/api/payouts", "POST")).status_code == 200

    @pytest.mark.parametrize("max_age", [0, -1, timedelta(seconds=90), timedelta(0), True])
    def test_max_age_must_be_whole_minutes(self, max_age: Any) -> None:
        """Fractions of a minute, zero and negatives are refused when the route is declared."""
        with pytest.raises(ValueError, match="max_age"):
            requires_second_factor(max_age=max_age)


# --- rotation ------------------------------------------------------------------------------------


@asynccontextmanager
async def running(config: TOTPKitConfig) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(host_app(config), base_url=BASE_URL) as client:
        yield client


class TestSigningKeyRotation:
    """Tokens signed by any configured (= published) key verify; removing the key ends them."""

    async def test_retired_but_published_key(
        self, kit: Any, config: TOTPKitConfig, signing_key: SigningKey, other_key: SigningKey
    ) -> None:
        """B signs a token; with keys (A, B) it still verifies and A signs; with (A,) it is refused."""
        old_token, _ = await signed_in_token(kit)
        assert kid_of(old_token) == signing_key.kid
        rotate: Callable[..., TOTPKitConfig] = dataclasses.replace
        async with running(rotate(config, signing_keys=(other_key, signing_key))) as rotated:
            kids = [key["kid"] for key in (await rotated.get("/.well-known/jwks.json")).json()["keys"]]
            assert kids == [other_key.kid, signing_key.kid]
            assert (await call(rotated, old_token)).status_code == 200
            device = kit.device(rotated)
            email = kit.new_email()
            await kit.create_user(email)
            await kit.sign_in(email, device=device)
            new_token = await mint(kit, device)
            assert kid_of(new_token) == other_key.kid
            assert (await call(rotated, new_token)).status_code == 200
        async with running(rotate(config, signing_keys=(other_key,))) as retired:
            assert_signed_out(kit, await call(retired, old_token), "jwk-kid-mismatch")
            assert (await call(retired, new_token)).status_code == 200
