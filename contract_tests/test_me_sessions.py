"""``/v1/me/sessions``: the user's sessions on every device (Clerk's UserProfile "Active devices").

Both targets (the server and the SDK's fake, which mirrors these routes) answer with Clerk's
``Client.ActiveSessions`` / ``Server.Sessions`` arrays and the wrapped ``Client.Session`` on revoke.
"""

from __future__ import annotations

from typing import Any

import pytest

import totpkit
from totpkit import AsyncFrontend

EMAIL = "jane@example.com"
PASSWORD = "correct horse battery"


async def two_devices(flows: Any) -> tuple[Any, Any]:
    """One user signed in on two devices."""
    first = await flows.signed_in(EMAIL)
    second = flows.device()
    assert (await flows.sign_in(second, EMAIL))["status"] == "complete"
    return first, second


class TestMeSessions:
    async def test_active(self, target: Any, golden: Any, flows: Any) -> None:
        """Both live sessions, oldest first, without user or token."""
        first, second = await two_devices(flows)
        response = await second.get("/v1/me/sessions/active")
        body = golden.check("me_sessions_active", response, schema="Client.ActiveSessions")
        assert [s["id"] for s in body] == [first.session_id, second.session_id]
        assert all(s["last_active_token"] is None for s in body)

    async def test_all(self, target: Any, golden: Any, flows: Any) -> None:
        """Every session of the user, an ended one included, each with the user."""
        first, second = await two_devices(flows)
        assert (await first.post(f"/v1/client/sessions/{first.session_id}/end")).status_code == 200
        response = await second.get("/v1/me/sessions")
        body = golden.check("me_sessions", response, schema="Server.Sessions")
        assert [s["status"] for s in body] == ["ended", "active"]

    async def test_revoke(self, target: Any, golden: Any, flows: Any) -> None:
        """The other device's session is revoked; the answer carries the caller's client."""
        first, second = await two_devices(flows)
        response = await second.post(f"/v1/me/sessions/{first.session_id}/revoke")
        body = golden.check("me_session_revoke", response, schema="Client.ClientWrappedSession")
        assert body["response"]["status"] == "revoked"
        assert [s["id"] for s in body["client"]["sessions"]] == [second.session_id]
        assert (await first.get("/v1/me")).status_code == 401

    async def test_revoke_someone_elses_session(self, target: Any, golden: Any, flows: Any) -> None:
        """Another user's session id: 404 resource_not_found, and that session stays signed in."""
        victim = await flows.signed_in("victim@example.com")
        attacker = await flows.signed_in(EMAIL)
        response = await attacker.post(f"/v1/me/sessions/{victim.session_id}/revoke")
        body = golden.check("errors/resource_not_found_session_revoke", response, status=404, schema="ClerkErrors")
        assert body["errors"][0]["code"] == "resource_not_found"
        assert (await victim.get("/v1/me")).status_code == 200


class TestSDK:
    """``AsyncUser.get_active_sessions`` / ``get_sessions`` / ``revoke_session`` against both targets."""

    async def test_list_and_revoke(self, target: Any) -> None:
        await target.create_user(EMAIL)
        email = target.email(EMAIL)
        devices = [AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0) for _ in range(2)]
        for fapi in devices:
            assert (await fapi.sign_in(identifier=email, password=PASSWORD)).status == "complete"
        first, second = devices
        user = await second.get_user()

        active = await user.get_active_sessions()
        assert [s.id for s in active] == [first.session_id, second.session_id]
        assert all(s.last_active_token is None and s.latest_activity.is_mobile is False for s in active)

        revoked = await user.revoke_session(str(first.session_id))
        assert (revoked.id, revoked.status) == (first.session_id, "revoked")
        assert [s.id for s in await user.get_active_sessions()] == [second.session_id]
        every = await user.get_sessions()
        assert [(s.id, s.status) for s in every] == [(first.session_id, "revoked"), (second.session_id, "active")]
        with pytest.raises(totpkit.AuthenticationError):
            await first.get_user()

        with pytest.raises(totpkit.NotFoundError) as unknown:
            await user.revoke_session("sess_unknown")
        assert unknown.value.code == "resource_not_found"
        with pytest.raises(ValueError, match="session_id"):
            await user.revoke_session("")
