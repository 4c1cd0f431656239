"""verify_session_token and JWKSCache: what verifies, what is refused, and when the JWKS is fetched.

The JWKS is served by a respx router (or by the SDK's stateful fake); tokens are signed here with
RSA keys made by ``cryptography``, so each forgery is built exactly. Time is injected twice: the
verification clock (Unix seconds) and the cache's monotonic clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest
import respx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from totpkit import (
    InvalidSessionTokenError,
    JWKSCache,
    JWKSFetchError,
    MissingDependencyError,
    SessionClaims,
    TotpkitError,
    verify_session_token,
)
from totpkit.testing import FakeFrontendAPI, ManualClock
from totpkit.types import JWKS

from .conftest import BASE_URL

NOW = 1_700_000_000.0
ISSUER = "https://auth.example.test"
JWKS_URL = f"{BASE_URL}/.well-known/jwks.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Key:
    """A test RSA key with its kid."""

    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes(3, "big")),
        }

    def sign(self, claims: dict[str, object], header: dict[str, object] | None = None) -> str:
        signing_input = f"{compact(header or {'alg': 'RS256', 'kid': self.kid, 'typ': 'JWT'})}.{compact(claims)}"
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


@pytest.fixture(scope="module")
def key_a() -> Key:
    return Key("ins_a", rsa.generate_private_key(65537, 2048))


@pytest.fixture(scope="module")
def key_b() -> Key:
    return Key("ins_b", rsa.generate_private_key(65537, 2048))


def claims(**changes: object) -> dict[str, object]:
    """Valid session claims at NOW; a change to ``None`` drops the claim."""
    base: dict[str, object] = {
        "azp": "https://app.example.test",
        "exp": NOW + 60,
        "fva": [3, 1],
        "iat": NOW,
        "iss": ISSUER,
        "jti": "abc123",
        "nbf": NOW - 10,
        "sid": "sess_1",
        "sub": "user_1",
        "v": 2,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


@pytest.fixture(name="cache_clock")
def fx_cache_clock() -> ManualClock:
    return ManualClock(1000.0)


class Publisher:
    """The JWKS route: publishes the given keys and counts fetches."""

    def __init__(self, router: respx.MockRouter, *keys: Key) -> None:
        self.keys = list(keys)
        self.status = 200
        self.route = router.get(JWKS_URL).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, json={"errors": []})
        return httpx.Response(200, json={"keys": [key.jwk() for key in self.keys]})

    @property
    def fetches(self) -> int:
        return int(self.route.call_count)


def new_cache(http_client: httpx.AsyncClient, clock: ManualClock, **options: Any) -> JWKSCache:
    return JWKSCache(JWKS_URL, http_client=http_client, clock=clock, **options)


async def verify(token: str, jwks: Any, **options: Any) -> SessionClaims:
    return await verify_session_token(token, jwks=jwks, clock=lambda: NOW, **options)


async def refused(token: str, jwks: Any, reason: str, **options: Any) -> InvalidSessionTokenError:
    with pytest.raises(InvalidSessionTokenError) as caught:
        await verify(token, jwks, **options)
    assert caught.value.reason == reason, caught.value
    return caught.value


# --- what verifies -------------------------------------------------------------------------------


class TestVerified:
    """A genuine token gives its claims."""

    async def test_claims(self, key_a: Key) -> None:
        """Every named claim, the raw claims and the id aliases."""
        extra = claims(o={"id": "org_1"})
        result = await verify(key_a.sign(extra), {"keys": [key_a.jwk()]}, issuer=ISSUER)
        assert result == SessionClaims(
            sub="user_1",
            sid="sess_1",
            iat=NOW,
            exp=NOW + 60,
            nbf=NOW - 10,
            iss=ISSUER,
            azp="https://app.example.test",
            jti="abc123",
            v=2,
            fva=(3, 1),
            raw=extra,
        )
        assert (result.user_id, result.session_id) == ("user_1", "sess_1")

    async def test_static_jwks_struct(self, key_a: Key) -> None:
        """A totpkit.types.JWKS works as the key set, as does a dict."""
        document = msgspec.convert({"keys": [key_a.jwk()]}, JWKS)
        assert (await verify(key_a.sign(claims()), document)).sub == "user_1"

    async def test_leeway(self, key_a: Key) -> None:
        """exp up to 5 s in the past and nbf/iat up to 5 s ahead pass; a custom leeway applies."""
        jwks = {"keys": [key_a.jwk()]}
        assert await verify(key_a.sign(claims(exp=NOW - 4.9)), jwks)
        assert await verify(key_a.sign(claims(nbf=NOW + 5, iat=NOW + 5)), jwks)
        await refused(key_a.sign(claims(exp=NOW - 4.9)), jwks, "token-expired", leeway=0)

    async def test_authorized_parties(self, key_a: Key) -> None:
        """azp must be listed; a token without azp (a native client's) passes."""
        jwks = {"keys": [key_a.jwk()]}
        parties = {"https://app.example.test"}
        assert await verify(key_a.sign(claims()), jwks, authorized_parties=parties)
        assert await verify(key_a.sign(claims(azp=None)), jwks, authorized_parties=parties)
        await refused(key_a.sign(claims(azp="https://evil.test")), jwks, "token-invalid-authorized-parties",
                      authorized_parties=parties)  # fmt: skip

    async def test_against_the_sdk_fake(self) -> None:
        """A token minted by the fake server verifies with the fake's JWKS and issuer."""
        async with FakeFrontendAPI(clock=lambda: NOW) as fake:
            user_id = fake.add_user("jane@example.com", "correct horse")
            fapi = fake.frontend()
            await fapi.sign_in(identifier="jane@example.com", password="correct horse")
            session = await fapi.get_session()
            token = await session.get_token()
            cache = JWKSCache(f"{fake.base_url}/.well-known/jwks.json", http_client=fake.http_client())
            result = await verify_session_token(token, jwks=cache, issuer=fake.base_url, clock=lambda: NOW)
            assert (result.user_id, result.session_id, result.fva) == (user_id, session.id, (0, -1))
            with pytest.raises(InvalidSessionTokenError) as caught:
                await verify_session_token(token, jwks=cache, issuer="https://other.test", clock=lambda: NOW)
            assert caught.value.reason == "token-invalid-issuer"


# --- what is refused -----------------------------------------------------------------------------


class TestRefused:
    """Forged, expired and misdirected tokens raise InvalidSessionTokenError with Clerk's reason."""

    async def test_wrong_key(self, key_a: Key, key_b: Key) -> None:
        """Signed by another key under the published kid."""
        impostor = Key(key_a.kid, key_b.private)
        await refused(impostor.sign(claims()), {"keys": [key_a.jwk()]}, "token-invalid-signature")

    async def test_alg_none(self, key_a: Key) -> None:
        unsigned = f"{compact({'alg': 'none', 'kid': key_a.kid})}.{compact(claims())}."
        await refused(unsigned, {"keys": [key_a.jwk()]}, "token-invalid")
        await refused(unsigned + "AAAA", {"keys": [key_a.jwk()]}, "token-invalid-algorithm")

    async def test_hs256_with_the_public_key(self, key_a: Key) -> None:
        """HMAC keyed with the public PEM or with the JWK itself."""
        pem = key_a.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for secret in (pem, json.dumps(key_a.jwk()).encode()):
            signing_input = f"{compact({'alg': 'HS256', 'kid': key_a.kid})}.{compact(claims())}"
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            await refused(f"{signing_input}.{b64url(mac)}", {"keys": [key_a.jwk()]}, "token-invalid-algorithm")

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"exp": NOW - 5}, "token-expired"),
            ({"nbf": NOW + 5.1}, "token-not-active-yet"),
            ({"iat": NOW + 6, "nbf": None}, "token-iat-in-the-future"),
            ({"iss": "https://evil.test"}, "token-invalid-issuer"),
            ({"iss": None}, "token-invalid-issuer"),
            ({"exp": None}, "token-invalid"),
            ({"sub": None}, "token-invalid"),
            ({"sid": None}, "token-invalid"),
            ({"sub": ""}, "token-invalid"),
            ({"fva": [1]}, "token-invalid"),
            ({"fva": [1, -2]}, "token-invalid"),
            ({"fva": ["1", 0]}, "token-invalid"),
            ({"v": True}, "token-invalid"),
        ],
        ids=lambda value: json.dumps(value) if isinstance(value, dict) else value,
    )
    async def test_claims(self, key_a: Key, changes: dict[str, object], reason: str) -> None:
        """Time, issuer and shape checks on correctly signed tokens."""
        await refused(key_a.sign(claims(**changes)), {"keys": [key_a.jwk()]}, reason, issuer=ISSUER)

    async def test_unknown_kid(self, key_a: Key, key_b: Key) -> None:
        await refused(key_b.sign(claims()), {"keys": [key_a.jwk()]}, "jwk-kid-mismatch")

    @pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b.c.d", "é.é.é", "x" * 70_000])
    async def test_garbage(self, key_a: Key, token: str) -> None:
        await refused(token, {"keys": [key_a.jwk()]}, "token-invalid")

    async def test_errors_are_totpkit_errors(self, key_a: Key) -> None:
        """Callers can catch TotpkitError for everything the SDK raises."""
        error = await refused("abc", {"keys": [key_a.jwk()]}, "token-invalid")
        assert isinstance(error, TotpkitError)
        assert error.message == str(error)

    async def test_bad_arguments(self, key_a: Key) -> None:
        """Exactly one key source; a non-negative leeway; a document with a usable key."""
        token = key_a.sign(claims())
        with pytest.raises(ValueError, match="exactly one"):
            await verify_session_token(token)
        with pytest.raises(ValueError, match="exactly one"):
            await verify_session_token(token, jwks_url=JWKS_URL, jwks={"keys": [key_a.jwk()]})
        with pytest.raises(ValueError, match="leeway"):
            await verify(token, {"keys": [key_a.jwk()]}, leeway=-1)
        with pytest.raises(ValueError, match="no usable"):
            await verify(token, {"keys": [{"kty": "EC", "kid": key_a.kid}]})


# --- second-factor recency -----------------------------------------------------------------------


class TestSecondFactorRecency:
    """has_recent_second_factor: Clerk's ``afterMinutes > age``, aged by the token's own age."""

    @pytest.mark.parametrize(
        ("fva", "now", "max_age", "expected"),
        [
            ((0, 0), NOW, 10, True),
            ((9, 9), NOW, 10, True),
            ((10, 10), NOW, 10, False),
            ((9, 9), NOW + 60, 10, False),
            ((9, 9), NOW + 59, timedelta(minutes=10), True),
            ((0, -1), NOW, 10, False),
            (None, NOW, 10, False),
            ((0, 0), NOW - 600, 1, True),
        ],
    )
    def test_recency(self, fva: tuple[int, int] | None, now: float, max_age: Any, expected: bool) -> None:
        token_claims = SessionClaims(sub="user_1", sid="sess_1", iat=NOW, exp=NOW + 60, fva=fva)
        assert token_claims.has_recent_second_factor(max_age, now=now) is expected

    @pytest.mark.parametrize("max_age", [0, -5, timedelta(seconds=30), True, 1.5])
    def test_max_age_is_whole_minutes(self, max_age: Any) -> None:
        token_claims = SessionClaims(sub="user_1", sid="sess_1", iat=NOW, exp=NOW + 60, fva=(0, 0))
        with pytest.raises(ValueError, match="max_age"):
            token_claims.has_recent_second_factor(max_age, now=NOW)


# --- the JWKS cache ------------------------------------------------------------------------------


class TestJWKSCache:
    """Fetch once, refetch on an unknown kid at most once per interval, keep keys on failure."""

    async def test_fetches_once(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """Many verifications, one fetch."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock)
        for _ in range(20):
            assert (await verify(key_a.sign(claims()), cache)).sub == "user_1"
            cache_clock.now += 10
        assert publisher.fetches == 1
        assert cache.kids == {key_a.kid}

    async def test_max_age(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """Keys older than max_age are fetched again before use."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock, max_age=300)
        await verify(key_a.sign(claims()), cache)
        cache_clock.now += 299
        await verify(key_a.sign(claims()), cache)
        assert publisher.fetches == 1
        cache_clock.now += 1
        await verify(key_a.sign(claims()), cache)
        assert publisher.fetches == 2

    async def test_rotation(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key, key_b: Key
    ) -> None:
        """A new key is picked up on its first token; a removed key stops verifying once refetched."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock, min_refresh_interval=30, max_age=300)
        old_token, new_token = key_a.sign(claims()), key_b.sign(claims())
        await verify(old_token, cache)
        cache_clock.now += 30
        publisher.keys = [key_b, key_a]
        assert (await verify(new_token, cache)).sub == "user_1"
        assert (await verify(old_token, cache)).sub == "user_1"
        assert publisher.fetches == 2
        publisher.keys = [key_b]
        await verify(old_token, cache)
        cache_clock.now += 300
        await refused(old_token, cache, "jwk-kid-mismatch")
        assert (await verify(new_token, cache)).sub == "user_1"
        assert publisher.fetches == 3

    async def test_unknown_kids_are_rate_limited(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key, key_b: Key
    ) -> None:
        """Tokens with made-up kids cause at most one fetch per interval."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock, min_refresh_interval=30)
        await verify(key_a.sign(claims()), cache)
        for number in range(10):
            stranger = Key(f"ins_made_up_{number}", key_b.private)
            await refused(stranger.sign(claims()), cache, "jwk-kid-mismatch")
        assert publisher.fetches == 1
        cache_clock.now += 30
        await refused(key_b.sign(claims()), cache, "jwk-kid-mismatch")
        assert publisher.fetches == 2

    async def test_malformed_tokens_never_fetch(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """Garbage and wrong algorithms are refused before the cache is asked."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock)
        await refused("a.b.c", cache, "token-invalid")
        await refused(f"{compact({'alg': 'HS256', 'kid': 'x'})}.{compact(claims())}.AAAA", cache,
                      "token-invalid-algorithm")  # fmt: skip
        await refused(f"{compact({'alg': 'RS256'})}.{compact(claims())}.AAAA", cache, "jwk-kid-mismatch")
        assert publisher.fetches == 0

    async def test_concurrent_callers_share_one_fetch(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """Ten verifications racing on an empty cache wait for the same single request."""
        release = asyncio.Event()
        calls = 0

        async def slow(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            await release.wait()
            return httpx.Response(200, json={"keys": [key_a.jwk()]})

        router.get(JWKS_URL).mock(side_effect=slow)
        cache = new_cache(http_client, cache_clock)
        tasks = [asyncio.create_task(verify(key_a.sign(claims()), cache)) for _ in range(10)]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        assert {result.sub for result in results} == {"user_1"}
        assert calls == 1

    async def test_cancelled_caller_does_not_cancel_the_fetch(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """The first caller gives up; the fetch it started still serves the next caller."""
        release = asyncio.Event()

        async def slow(request: httpx.Request) -> httpx.Response:
            await release.wait()
            return httpx.Response(200, json={"keys": [key_a.jwk()]})

        route = router.get(JWKS_URL).mock(side_effect=slow)
        cache = new_cache(http_client, cache_clock)
        first = asyncio.create_task(verify(key_a.sign(claims()), cache))
        await asyncio.sleep(0.01)
        first.cancel()
        second = asyncio.create_task(verify(key_a.sign(claims()), cache))
        await asyncio.sleep(0)
        release.set()
        assert (await asyncio.wait_for(second, timeout=5)).sub == "user_1"
        assert first.cancelled()
        assert route.call_count == 1

    async def test_failed_refresh_keeps_the_keys(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key, key_b: Key
    ) -> None:
        """An unknown kid during an outage raises JWKSFetchError; known keys keep verifying."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock, min_refresh_interval=30)
        await verify(key_a.sign(claims()), cache)
        publisher.status = 503
        cache_clock.now += 30
        with pytest.raises(JWKSFetchError, match="HTTP 503") as caught:
            await verify(key_b.sign(claims()), cache)
        assert caught.value.url == JWKS_URL
        assert (await verify(key_a.sign(claims()), cache)).sub == "user_1"
        await refused(key_b.sign(claims()), cache, "jwk-kid-mismatch")
        assert publisher.fetches == 2

    async def test_failed_first_fetch_is_retried_after_the_interval(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """No keys and no JWKS: fail closed, without hammering the URL."""
        route = router.get(JWKS_URL).mock(side_effect=httpx.ConnectError("refused"))
        cache = new_cache(http_client, cache_clock, min_refresh_interval=30)
        with pytest.raises(JWKSFetchError, match="ConnectError"):
            await verify(key_a.sign(claims()), cache)
        with pytest.raises(JWKSFetchError, match="last fetch failed"):
            await verify(key_a.sign(claims()), cache)
        assert route.call_count == 1
        route.mock(side_effect=None, return_value=httpx.Response(200, json={"keys": [key_a.jwk()]}))
        cache_clock.now += 30
        assert (await verify(key_a.sign(claims()), cache)).sub == "user_1"
        assert route.call_count == 2

    async def test_stale_keys_fail_closed(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """Keys past max_age are not used when they cannot be refreshed."""
        publisher = Publisher(router, key_a)
        cache = new_cache(http_client, cache_clock, min_refresh_interval=30, max_age=60)
        await verify(key_a.sign(claims()), cache)
        publisher.status = 500
        cache_clock.now += 60
        with pytest.raises(JWKSFetchError):
            await verify(key_a.sign(claims()), cache)
        with pytest.raises(JWKSFetchError, match="last fetch failed"):
            await verify(key_a.sign(claims()), cache)
        assert publisher.fetches == 2

    @pytest.mark.parametrize(
        ("answer", "message"),
        [
            (httpx.Response(200, content=b"<html>"), "not a usable JWKS"),
            (httpx.Response(200, json=[1]), "not a usable JWKS"),
            (httpx.Response(200, json={"keys": "x"}), "not a usable JWKS"),
            (httpx.Response(200, json={"keys": [{"kty": "EC", "kid": "ins_a", "crv": "P-256"}]}), "no usable"),
            (httpx.Response(200, content=b'{"keys":[' + b" " * 300_000 + b"]}"), "larger than"),
            (httpx.Response(302, headers={"location": "https://elsewhere.test/jwks"}), "HTTP 302"),
        ],
        ids=["html", "array", "keys-not-list", "no-rsa-key", "too-large", "redirect"],
    )
    async def test_unusable_documents(
        self,
        router: respx.MockRouter,
        http_client: httpx.AsyncClient,
        cache_clock: ManualClock,
        key_a: Key,
        answer: httpx.Response,
        message: str,
    ) -> None:
        router.get(JWKS_URL).mock(return_value=answer)
        with pytest.raises(JWKSFetchError, match=message):
            await verify(key_a.sign(claims()), new_cache(http_client, cache_clock))

    async def test_skips_keys_it_cannot_use(
        self, router: respx.MockRouter, http_client: httpx.AsyncClient, cache_clock: ManualClock, key_a: Key
    ) -> None:
        """EC keys, encryption keys, other algorithms and short RSA keys are ignored, not fatal."""
        small = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505 - deliberately weak
        ec_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
        others = [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": b64url(ec_key.x.to_bytes(32, "big")), "y": "AA"},
            {**key_a.jwk(), "kid": "enc", "use": "enc"},
            {**key_a.jwk(), "kid": "ps", "alg": "PS256"},
            {"kty": "RSA", "kid": "small", "n": b64url(small.n.to_bytes(128, "big")), "e": "AQAB"},
            {**key_a.jwk(), "kid": ""},
            {**key_a.jwk(), "kid": "bad-n", "n": "!!"},
            "not an object",
        ]
        router.get(JWKS_URL).mock(return_value=httpx.Response(200, json={"keys": [*others, key_a.jwk()]}))
        cache = new_cache(http_client, cache_clock)
        assert (await verify(key_a.sign(claims()), cache)).sub == "user_1"
        assert cache.kids == {key_a.kid}

    def test_intervals_are_checked(self, http_client: httpx.AsyncClient) -> None:
        with pytest.raises(ValueError, match="max_age"):
            JWKSCache(JWKS_URL, http_client=http_client, min_refresh_interval=60, max_age=30)
        with pytest.raises(ValueError, match="min_refresh_interval"):
            JWKSCache(JWKS_URL, http_client=http_client, min_refresh_interval=-1)

    async def test_jwks_url_keeps_one_cache_per_url(self, key_a: Key) -> None:
        """verify_session_token(jwks_url=...) fetches through its own client once per URL, not per call."""
        url = "https://issuer-one.example.test/.well-known/jwks.json"
        with respx.mock(assert_all_called=True) as mock:
            route = mock.get(url).mock(return_value=httpx.Response(200, json={"keys": [key_a.jwk()]}))
            for _ in range(5):
                result = await verify_session_token(key_a.sign(claims()), jwks_url=url, clock=lambda: NOW)
                assert result.sub == "user_1"
        assert route.call_count == 1


# --- the optional dependency ---------------------------------------------------------------------


class TestJwtExtra:
    """cryptography is needed only for verification, and its absence is explained."""

    def test_importing_totpkit_does_not_import_cryptography(self) -> None:
        code = "import sys, totpkit; sys.exit(any(m.split('.')[0] == 'cryptography' for m in sys.modules))"
        assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0

    async def test_missing_cryptography(self, monkeypatch: pytest.MonkeyPatch, key_a: Key) -> None:
        """Without cryptography, verification raises an ImportError that names the extra."""
        for name in [name for name in sys.modules if name.split(".")[0] == "cryptography"] + ["totpkit._jwt"]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "cryptography", None)
        with pytest.raises(MissingDependencyError, match=r"totpkit\[jwt\]") as caught:
            await verify_session_token(key_a.sign(claims()), jwks={"keys": [key_a.jwk()]})
        assert isinstance(caught.value, ImportError)
        assert (caught.value.package, caught.value.extra) == ("cryptography", "jwt")
