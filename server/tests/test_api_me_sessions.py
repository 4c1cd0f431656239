"""``/v1/me/sessions``: the user's sessions on every device, and what Clerk's prebuilt UI reads.

Clerk's UserProfile → Security → "Active devices" lists ``GET /v1/me/sessions/active`` and revokes
with ``POST /v1/me/sessions/{id}/revoke``; ``<SignIn/>`` builds its form from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from totpkit_server import TOTPKitConfig

pytestmark = pytest.mark.both_backends


async def two_devices(kit: Any) -> tuple[Any, Any, str, str]:
    """One user signed in on two native devices: ``(first, second, first_session, second_session)``."""
    email, first = await kit.user_and_device()
    second = await kit.sign_in(email)
    return first, second, await kit.active_session_id(first), await kit.active_session_id(second)


class TestEnvironmentForThePrebuiltUI:
    async def test_email_is_the_sign_in_identifier(self, kit: Any) -> None:
        """``<SignIn/>`` shows an email field only for attributes used for the first factor."""
        attributes = (await kit.http.get("/v1/environment")).json()["user_settings"]["attributes"]
        assert attributes["email_address"]["used_for_first_factor"] is True
        assert attributes["email_address"]["first_factors"] == []  # no email codes or links are offered
        for other in ("phone_number", "username", "web3_wallet", "passkey"):
            assert attributes[other]["used_for_first_factor"] is False, other

    async def test_email_cannot_be_added_or_removed(self, kit: Any) -> None:
        """``immutable`` email: UserProfile offers no "Add email address" (totpkit has no such route)."""
        attributes = (await kit.http.get("/v1/environment")).json()["user_settings"]["attributes"]
        assert attributes["email_address"]["immutable"] is True

    async def test_sign_up_is_not_offered(self, kit: Any) -> None:
        """``sign_up.mode`` "restricted": the card shows no "Sign up" link (users come from the Backend API)."""
        environment = (await kit.http.get("/v1/environment")).json()
        assert environment["user_settings"]["sign_up"]["mode"] == "restricted"


class TestActiveSessions:
    async def test_lists_the_users_sessions_on_every_device(self, kit: Any) -> None:
        """Both devices' sessions, oldest first, in Clerk's ActiveSession shape, as a bare array."""
        first, second, first_id, second_id = await two_devices(kit)
        response = await second.get("/v1/me/sessions/active")
        assert response.status_code == 200, response.text
        sessions = response.json()
        assert isinstance(sessions, list)
        assert [s["id"] for s in sessions] == [first_id, second_id]
        for session in sessions:
            assert session["object"] == "session"
            assert session["status"] == "active"
            assert session["last_active_token"] is None  # never another device's token
            assert "user" not in session
            assert session["latest_activity"]["object"] == "session_activity"
            assert session["latest_activity"]["is_mobile"] is False
        assert (await first.get("/v1/me/sessions/active")).json() == sessions

    async def test_other_users_and_ended_sessions_are_not_listed(self, kit: Any) -> None:
        """Another user's session and an ended one of the same user do not appear."""
        first, second, first_id, second_id = await two_devices(kit)
        _, stranger = await kit.user_and_device()
        assert (await first.post(f"/v1/client/sessions/{first_id}/end")).status_code == 200
        listed = (await second.get("/v1/me/sessions/active")).json()
        assert [s["id"] for s in listed] == [second_id]
        assert [s["id"] for s in (await stranger.get("/v1/me/sessions/active")).json()] == [
            await kit.active_session_id(stranger)
        ]

    async def test_expired_sessions_are_not_listed(self, kit: Any) -> None:
        """A session past ``expire_at`` is no active device (and the caller is signed out)."""
        _, device = await kit.user_and_device()
        kit.clock.advance(kit.config.session_lifetime + 1)
        kit.error(await device.get("/v1/me/sessions/active"), 401, "authentication_invalid")

    async def test_signed_out_is_401(self, kit: Any) -> None:
        """Without a live session: 401 authentication_invalid, as every /v1/me route."""
        device = kit.device()
        kit.error(await device.get("/v1/me/sessions/active"), 401, "authentication_invalid")
        kit.error(await device.get("/v1/me/sessions"), 401, "authentication_invalid")
        kit.error(await device.post("/v1/me/sessions/sess_x/revoke"), 401, "authentication_invalid")


class TestAllSessions:
    async def test_every_status_with_the_user_and_no_token(self, kit: Any) -> None:
        """``GET /v1/me/sessions``: ended sessions too, each a full Session with its user."""
        first, second, first_id, second_id = await two_devices(kit)
        assert (await first.post(f"/v1/client/sessions/{first_id}/end")).status_code == 200
        response = await second.get("/v1/me/sessions")
        assert response.status_code == 200, response.text
        sessions = response.json()
        assert [(s["id"], s["status"]) for s in sessions] == [(first_id, "ended"), (second_id, "active")]
        me = await second.me()
        for session in sessions:
            assert session["last_active_token"] is None
            assert session["user"]["id"] == me["id"]
            assert session["public_user_data"]["user_id"] == me["id"]


class TestRevoke:
    async def test_revoking_another_device_signs_it_out(self, kit: Any) -> None:
        """The other device's session is ``revoked``: its /v1/me and token minting answer 401."""
        first, second, first_id, second_id = await two_devices(kit)
        response = await second.post(f"/v1/me/sessions/{first_id}/revoke")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["response"]["id"] == first_id
        assert body["response"]["status"] == "revoked"
        assert body["response"]["last_active_token"] is None
        assert [s["id"] for s in body["client"]["sessions"]] == [second_id]  # the caller's own client
        kit.error(await first.get("/v1/me"), 401, "authentication_invalid")
        kit.error(await first.post(f"/v1/client/sessions/{first_id}/tokens"), 401, "authentication_invalid")
        first_client = (await first.get("/v1/client")).json()["response"]
        assert first_client["sessions"] == []
        assert first_client["last_active_session_id"] is None
        assert [s["id"] for s in (await second.get("/v1/me/sessions/active")).json()] == [second_id]
        assert (await second.me())["id"]

    async def test_revoking_twice_is_harmless(self, kit: Any) -> None:
        """A second revoke answers the same revoked session."""
        _, second, first_id, _ = await two_devices(kit)
        assert (await second.post(f"/v1/me/sessions/{first_id}/revoke")).status_code == 200
        again = await second.post(f"/v1/me/sessions/{first_id}/revoke")
        assert again.status_code == 200, again.text
        assert again.json()["response"]["status"] == "revoked"

    async def test_another_users_session_is_404_and_untouched(self, kit: Any) -> None:
        """Someone else's session id answers like an unknown one, and that session stays active."""
        _, attacker = await kit.user_and_device()
        _, victim = await kit.user_and_device()
        victim_session = await kit.active_session_id(victim)
        response = await attacker.post(f"/v1/me/sessions/{victim_session}/revoke")
        kit.error(response, 404, "resource_not_found")
        unknown = await attacker.post("/v1/me/sessions/sess_doesnotexist/revoke")
        kit.error(unknown, 404, "resource_not_found")
        assert response.json()["errors"][0]["code"] == unknown.json()["errors"][0]["code"]
        assert (await victim.me())["id"]
        assert (await victim.post(f"/v1/client/sessions/{victim_session}/tokens")).status_code == 200

    @pytest.mark.parametrize(
        ("content", "content_type", "status", "code"),
        [
            (b"{not json", "application/json", 422, "form_param_format_invalid"),
            (b"x" * 200_000, "application/x-www-form-urlencoded", 413, "request_body_too_large"),
            (b"<a/>", "application/xml", 415, "unsupported_content_type"),
        ],
    )
    async def test_bad_bodies_change_nothing(
        self, kit: Any, content: bytes, content_type: str, status: int, code: str
    ) -> None:
        """A malformed body is a Clerk 4xx and the session stays active."""
        first, second, first_id, _ = await two_devices(kit)
        response = await second.post(
            f"/v1/me/sessions/{first_id}/revoke", content=content, headers={"Content-Type": content_type}
        )
        kit.error(response, status, code)
        assert (await first.me())["id"]

    async def test_huge_session_id_is_404(self, kit: Any) -> None:
        """An absurd id is an ordinary 404, its echo in the message bounded."""
        _, device = await kit.user_and_device()
        response = await device.post(f"/v1/me/sessions/sess_{'x' * 5000}/revoke")
        kit.error(response, 404, "resource_not_found")
        assert len(response.text) < 2000

    async def test_revoking_the_current_session_signs_the_caller_out(self, kit: Any) -> None:
        """Revoking one's own session works like ending it."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        response = await device.post(f"/v1/me/sessions/{session_id}/revoke")
        assert response.status_code == 200, response.text
        assert response.json()["client"]["sessions"] == []
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")


class TestRevokeNeedsARecentSession:
    @pytest.fixture
    def config(self, make_config: Callable[..., TOTPKitConfig]) -> TOTPKitConfig:
        """Reverification on (ten minutes), as Clerk's UI expects for revoking a device."""
        return make_config(reverification_max_age=10)

    async def test_stale_session_gets_403_and_revokes_nothing(self, kit: Any) -> None:
        """Past ``reverification_max_age`` the revoke is 403 session_reverification_required."""
        first, second, first_id, _ = await two_devices(kit)
        kit.clock.advance(11 * 60)
        response = await second.post(f"/v1/me/sessions/{first_id}/revoke")
        kit.error(response, 403, "session_reverification_required")
        assert (await first.me())["id"]
