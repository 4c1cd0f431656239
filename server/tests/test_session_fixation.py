"""Session fixation: a client token that existed before a sign-in never reaches the session it creates.

The attacker makes a client (or a dev browser), plants its token in the victim's browser or app and
waits. When the victim's sign-in completes, in any of its three ways (a password that completes at
once, ``attempt_first_factor``, ``attempt_second_factor``), the answer carries a new token of a new
client holding the session; the planted token still finds its old client, without sessions, and
cannot read the user, mint a session token or touch the session.
"""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery staple"
NATIVE = {"_is_native": "1"}


async def planted_native_token(kit: Any) -> str:
    """The attacker's own client token (native mode), as it would be planted in the victim's app."""
    response = await kit.http.put("/v1/client", params=NATIVE, headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    return str(response.headers["authorization"])


async def native(kit: Any, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One native request with ``token``, without adopting any token the answer carries."""
    return await kit.http.request(method, path, params=NATIVE, headers={"Authorization": token}, **kwargs)


async def assert_reaches_no_session(kit: Any, send: Any, session_id: str) -> None:
    """``send(method, path)`` with the old token: a client without sessions, and no way into the session."""
    client = await send("GET", "/v1/client")
    assert client.status_code == 200, client.text
    body = client.json()["response"]
    assert body is not None, "the old token still finds its (now empty) client"
    assert body["sessions"] == [], body
    assert body["last_active_session_id"] is None, body
    assert body["sign_in"] is None, body
    kit.error(await send("GET", "/v1/me"), 401, "authentication_invalid")
    kit.error(await send("POST", f"/v1/client/sessions/{session_id}/tokens"), 404, "resource_not_found")
    kit.error(await send("POST", f"/v1/client/sessions/{session_id}/touch"), 404, "resource_not_found")
    kit.error(await send("GET", f"/v1/client/sessions/{session_id}"), 404, "resource_not_found")


async def assert_signed_in(send: Any, user_id: str, session_id: str) -> None:
    """``send(method, path)`` with the new token acts on the victim's session."""
    me = await send("GET", "/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["response"]["id"] == user_id
    client = (await send("GET", "/v1/client")).json()["response"]
    assert client["last_active_session_id"] == session_id
    minted = await send("POST", f"/v1/client/sessions/{session_id}/tokens")
    assert minted.status_code == 200, minted.text


class TestNativeMode:
    """``_is_native=1``: the new token comes in the ``Authorization`` answer header."""

    async def test_password_sign_in_that_completes(self, kit: Any) -> None:
        """A user without MFA: the sign-in completes in its first request and re-issues the token."""
        email = kit.new_email()
        user = await kit.create_user(email)
        planted = await planted_native_token(kit)
        signed = await native(
            kit, planted, "POST", "/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["response"]["status"] == "complete"
        session_id = signed.json()["response"]["created_session_id"]
        fresh = signed.headers["authorization"]
        assert fresh
        assert fresh != planted
        assert signed.json()["client"]["sessions"][0]["id"] == session_id

        async def old(method: str, path: str) -> httpx.Response:
            return await native(kit, planted, method, path)

        async def new(method: str, path: str) -> httpx.Response:
            return await native(kit, fresh, method, path)

        await assert_reaches_no_session(kit, old, session_id)
        await assert_signed_in(new, user["id"], session_id)

    async def test_second_factor_completion(self, kit: Any) -> None:
        """The token of the ``needs_second_factor`` step is replaced when the code completes the sign-in."""
        enrolled = await kit.enrolled_user()
        planted = await planted_native_token(kit)
        started = await native(
            kit, planted, "POST", "/v1/client/sign_ins", data={"identifier": enrolled.email, "password": PASSWORD}
        )
        assert started.json()["response"]["status"] == "needs_second_factor", started.text
        assert started.headers["authorization"] == planted  # nothing to protect yet: no session
        sign_in_id = started.json()["response"]["id"]
        done = await native(
            kit,
            planted,
            "POST",
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
            data={"strategy": "totp", "code": kit.code(enrolled.secret)},
        )
        assert done.status_code == 200, done.text
        session_id = done.json()["response"]["created_session_id"]
        fresh = done.headers["authorization"]
        assert fresh
        assert fresh != planted

        async def old(method: str, path: str) -> httpx.Response:
            return await native(kit, planted, method, path)

        async def new(method: str, path: str) -> httpx.Response:
            return await native(kit, fresh, method, path)

        await assert_reaches_no_session(kit, old, session_id)
        kit.error(await old("GET", f"/v1/client/sign_ins/{sign_in_id}"), 404, "resource_not_found")
        await assert_signed_in(new, enrolled.user_id, session_id)
        moved = await new("GET", f"/v1/client/sign_ins/{sign_in_id}")
        assert moved.json()["response"]["status"] == "complete", moved.text

    async def test_first_factor_completion(self, kit: Any) -> None:
        """Identifier first, then ``attempt_first_factor`` completes: the token is re-issued there."""
        email = kit.new_email()
        user = await kit.create_user(email)
        device = kit.device()
        started = await device.post("/v1/client/sign_ins", data={"identifier": email})
        assert started.json()["response"]["status"] == "needs_first_factor", started.text
        planted = device.token
        done = await device.post(
            f"/v1/client/sign_ins/{started.json()['response']['id']}/attempt_first_factor",
            data={"strategy": "password", "password": PASSWORD},
        )
        assert done.json()["response"]["status"] == "complete", done.text
        session_id = done.json()["response"]["created_session_id"]
        assert device.token != planted

        async def old(method: str, path: str) -> httpx.Response:
            return await native(kit, planted, method, path)

        await assert_reaches_no_session(kit, old, session_id)
        await assert_signed_in(device.request, user["id"], session_id)

    async def test_earlier_sessions_move_to_the_new_token(self, kit: Any) -> None:
        """A second sign-in on a signed-in device keeps both sessions on the new token, none on the old."""
        email, device = await kit.user_and_device()
        first = await kit.active_session_id(device)
        before = device.token
        await kit.sign_in(email, device=device)
        second = await kit.active_session_id(device)
        assert device.token != before
        sessions = (await device.get("/v1/client")).json()["response"]["sessions"]
        assert {s["id"] for s in sessions} == {first, second}
        assert (await device.post(f"/v1/client/sessions/{first}/tokens")).status_code == 200

        async def old(method: str, path: str) -> httpx.Response:
            return await native(kit, before, method, path)

        await assert_reaches_no_session(kit, old, first)


class TestCookieMode:
    """Browsers: the new token comes as a new ``__client`` cookie."""

    async def test_planted_cookie_is_replaced_at_sign_in(self, kit: Any) -> None:
        """The attacker's cookie ends up on a client without sessions; the victim's new cookie works."""
        enrolled = await kit.enrolled_user()
        kit.http.cookies.clear()
        planted = (await kit.http.post("/v1/client")).cookies["__client"]
        kit.http.cookies.clear()
        jar = {"Cookie": f"__client={planted}"}
        started = await kit.http.post(
            "/v1/client/sign_ins", data={"identifier": enrolled.email, "password": PASSWORD}, headers=jar
        )
        assert started.json()["response"]["status"] == "needs_second_factor", started.text
        assert "set-cookie" not in started.headers
        done = await kit.http.post(
            f"/v1/client/sign_ins/{started.json()['response']['id']}/attempt_second_factor",
            data={"strategy": "totp", "code": kit.code(enrolled.secret)},
            headers=jar,
        )
        assert done.status_code == 200, done.text
        session_id = done.json()["response"]["created_session_id"]
        set_cookie = done.headers["set-cookie"]
        attributes = [part.strip().lower() for part in set_cookie.split(";")]
        assert "httponly" in attributes
        fresh = done.cookies["__client"]
        assert fresh
        assert fresh != planted
        kit.http.cookies.clear()

        async def old(method: str, path: str) -> httpx.Response:
            return await kit.http.request(method, path, headers=jar)

        async def new(method: str, path: str) -> httpx.Response:
            return await kit.http.request(method, path, headers={"Cookie": f"__client={fresh}"})

        await assert_reaches_no_session(kit, old, session_id)
        await assert_signed_in(new, enrolled.user_id, session_id)


class TestDevBrowserMode:
    """``__clerk_db_jwt``: clerk-js takes it from a link, so it can be planted too; it is re-issued."""

    async def dev_sign_in(self, kit: Any, dev: str, email: str) -> httpx.Response:
        kit.http.cookies.clear()
        return await kit.http.post(
            "/v1/client/sign_ins", params={"__clerk_db_jwt": dev}, data={"identifier": email, "password": PASSWORD}
        )

    async def test_planted_dev_browser_is_replaced_at_sign_in(self, kit: Any) -> None:
        """The answer names a new dev browser in ``Clerk-Db-Jwt``; the planted one reaches no session."""
        email = kit.new_email()
        user = await kit.create_user(email)
        planted = (await kit.http.post("/v1/dev_browser")).json()["id"]
        signed = await self.dev_sign_in(kit, planted, email)
        assert signed.status_code == 200, signed.text
        session_id = signed.json()["response"]["created_session_id"]
        fresh = signed.headers["clerk-db-jwt"]
        assert fresh.startswith("dvb_")
        assert fresh != planted
        assert "set-cookie" not in signed.headers
        assert "authorization" not in signed.headers

        async def old(method: str, path: str) -> httpx.Response:
            kit.http.cookies.clear()
            return await kit.http.request(method, path, params={"__clerk_db_jwt": planted})

        async def new(method: str, path: str) -> httpx.Response:
            kit.http.cookies.clear()
            return await kit.http.request(method, path, params={"__clerk_db_jwt": fresh})

        await assert_reaches_no_session(kit, old, session_id)
        await assert_signed_in(new, user["id"], session_id)

    async def test_other_answers_name_no_new_dev_browser(self, kit: Any) -> None:
        """Only a completed sign-in re-issues: reading the client or a pending sign-in does not."""
        enrolled = await kit.enrolled_user()
        dev = (await kit.http.post("/v1/dev_browser")).json()["id"]
        started = await self.dev_sign_in(kit, dev, enrolled.email)
        assert started.json()["response"]["status"] == "needs_second_factor", started.text
        assert "clerk-db-jwt" not in started.headers
        assert "clerk-db-jwt" not in (await kit.http.get("/v1/client", params={"__clerk_db_jwt": dev})).headers
