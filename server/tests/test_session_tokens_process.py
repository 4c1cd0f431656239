"""The SDK's verify_session_token against a real ``totpkit serve`` process and its JWKS, across a key rotation.

The server runs as a child process on 127.0.0.1 (stopped by PID), with its development keys file;
rotating means rewriting that file's ``signing_keys`` and restarting the process on the same port,
so the issuer (the base URL) stays the same. The server mints tokens with the real clock, so
verification uses the real clock too; the JWKS cache's own clock is injected to skip its intervals.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from totpkit import AsyncFrontend, InvalidSessionTokenError, JWKSCache, verify_session_token
from totpkit_server.core.tokens import SigningKey
from totpkit_server.testing import create_user, free_port, serve

EMAIL = "rotation@example.com"
PASSWORD = "correct horse battery staple 7"


class Clock:
    """The cache's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def edit_signing_keys(data_dir: Path, change: Any) -> list[str]:
    """Rewrite the keys file's signing keys with ``change(list) -> list``; returns the kids in order."""
    path = data_dir / "keys.json"
    document = json.loads(path.read_text("utf-8"))
    document["signing_keys"] = change(document["signing_keys"])
    path.write_text(json.dumps(document), "utf-8")
    return [item["kid"] for item in document["signing_keys"]]


async def mint(url: str, client_token: str) -> str:
    """A fresh session token from the server, for the client signed in earlier."""
    async with AsyncFrontend(url, client_token=client_token) as fapi:
        return await (await fapi.get_session()).get_token()


async def test_verifies_against_a_real_jwks_across_rotation(tmp_path: Path) -> None:
    """B signs; (A, B) published: both verify; B removed: B's token is refused once the cache refreshes."""
    data_dir = tmp_path / "data"
    user_id = create_user(data_dir, EMAIL, PASSWORD)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clock = Clock()
    async with httpx.AsyncClient(trust_env=False) as http:
        cache = JWKSCache(f"{url}/.well-known/jwks.json", http_client=http, clock=clock)

        async def verify(token: str) -> str:
            return (await verify_session_token(token, jwks=cache, issuer=url)).user_id

        with serve(data_dir, port=port):
            async with AsyncFrontend(url) as fapi:
                await fapi.sign_in(identifier=EMAIL, password=PASSWORD)
                client_token = fapi.client_token
                old_token = await (await fapi.get_session()).get_token()
            assert client_token is not None
            assert await verify(old_token) == user_id
            header, payload, signature = old_token.split(".")
            with pytest.raises(InvalidSessionTokenError) as caught:
                await verify(f"{header}.{payload[:-4]}AAAA.{signature}")
            assert caught.value.reason == "token-invalid-signature"
        old_kid = kid_of(old_token)

        new_key = SigningKey.generate("ins_rotatedbytest00000000000000")
        added = {"kid": new_key.kid, "pem": new_key.to_pem().decode("ascii")}
        assert edit_signing_keys(data_dir, lambda keys: [added, *keys]) == [new_key.kid, old_kid]
        with serve(data_dir, port=port):
            new_token = await mint(url, client_token)
            assert kid_of(new_token) == new_key.kid
            clock.now += cache.min_refresh_interval
            assert await verify(new_token) == user_id
            assert await verify(old_token) == user_id
            assert cache.kids == {new_key.kid, old_kid}
            assert cache.fetch_count == 2

        assert edit_signing_keys(data_dir, lambda keys: keys[:1]) == [new_key.kid]
        with serve(data_dir, port=port):
            assert await verify(old_token) == user_id  # still cached: max_age has not passed
            assert cache.max_age is not None
            clock.now += cache.max_age
            with pytest.raises(InvalidSessionTokenError) as caught:
                await verify(old_token)
            assert caught.value.reason == "jwk-kid-mismatch"
            assert await verify(new_token) == user_id
            assert cache.kids == {new_key.kid}
