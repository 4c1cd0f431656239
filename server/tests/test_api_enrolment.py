"""TOTP enrolment, backup codes and disabling through ``/v1/me`` (behaviour, not JSON shapes)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.both_backends


def contains(document: Any, needle: str) -> bool:
    """Whether ``needle`` occurs anywhere in a JSON document (keys and values, any case)."""
    return needle.lower() in json.dumps(document).lower()


class TestEnrolmentLifecycle:
    async def test_create_verify_backup_codes_disable(self, kit: Any) -> None:
        """The whole lifecycle: create, verify, get backup codes, regenerate, disable."""
        _, device = await kit.user_and_device()
        created = await device.post("/v1/me/totp")
        assert created.status_code == 200, created.text
        totp = created.json()["response"]
        assert totp["verified"] is False
        assert totp["id"].startswith("totp_")
        assert len(totp["secret"]) == 32
        assert totp["uri"].startswith("otpauth://totp/")
        assert f"secret={totp['secret']}" in totp["uri"]

        verified = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(totp["secret"])})
        assert verified.status_code == 200, verified.text
        body = verified.json()["response"]
        assert body["verified"] is True
        assert body["id"] == totp["id"]
        assert len(body["backup_codes"]) == kit.config.backup_code_count
        assert len(set(body["backup_codes"])) == kit.config.backup_code_count

        regenerated = await device.post("/v1/me/backup_codes")
        assert regenerated.status_code == 200, regenerated.text
        assert len(regenerated.json()["response"]["codes"]) == kit.config.backup_code_count

        deleted = await device.delete("/v1/me/totp")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["response"]["deleted"] is True
        assert deleted.json()["response"]["id"] == totp["id"]
        me = await device.me()
        assert (me["totp_enabled"], me["backup_code_enabled"], me["two_factor_enabled"]) == (False, False, False)

    async def test_create_again_replaces_pending_secret(self, kit: Any) -> None:
        """A second create gives a new id and secret; codes of the first secret are then rejected."""
        _, device = await kit.user_and_device()
        first = (await device.post("/v1/me/totp")).json()["response"]
        second = (await device.post("/v1/me/totp")).json()["response"]
        assert first["id"] != second["id"]
        assert first["secret"] != second["secret"]
        assert kit.code(first["secret"]) != kit.code(second["secret"])
        stale = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(first["secret"])})
        kit.error(stale, 422, "form_code_incorrect")
        fresh = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(second["secret"])})
        assert fresh.status_code == 200, fresh.text

    async def test_create_when_enabled_is_refused(self, kit: Any) -> None:
        """With a verified TOTP, create answers 400 totp_already_enabled and keeps the old secret working."""
        enrolled = await kit.enrolled_user()
        again = await enrolled.device.post("/v1/me/totp")
        kit.error(again, 400, "totp_already_enabled")
        assert not contains(again.json(), enrolled.secret)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        done = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert done.status_code == 200, done.text

    async def test_verify_when_already_verified_is_refused(self, kit: Any) -> None:
        """Verifying again after enrolment answers 400 totp_already_enabled."""
        enrolled = await kit.enrolled_user()
        again = await enrolled.device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(enrolled.secret)})
        kit.error(again, 400, "totp_already_enabled")

    async def test_verify_without_totp_is_404(self, kit: Any) -> None:
        """Verifying without a created TOTP is 404 resource_not_found."""
        _, device = await kit.user_and_device()
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": "123456"})
        kit.error(response, 404, "resource_not_found")

    async def test_delete_without_totp_is_404(self, kit: Any) -> None:
        """Deleting without any TOTP is 404 resource_not_found."""
        _, device = await kit.user_and_device()
        response = await device.delete("/v1/me/totp")
        kit.error(response, 404, "resource_not_found")

    async def test_delete_pending_totp(self, kit: Any) -> None:
        """A pending TOTP can be deleted; afterwards verification is 404 and MFA was never on."""
        _, device = await kit.user_and_device()
        totp = (await device.post("/v1/me/totp")).json()["response"]
        deleted = await device.delete("/v1/me/totp")
        assert deleted.status_code == 200, deleted.text
        verify = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(totp["secret"])})
        kit.error(verify, 404, "resource_not_found")
        me = await device.me()
        assert me["mfa_enabled_at"] is None
        assert me["mfa_disabled_at"] is None

    async def test_wrong_code_keeps_totp_pending(self, kit: Any) -> None:
        """A wrong code is 422 form_code_incorrect and leaves the TOTP unverified."""
        _, device = await kit.user_and_device()
        totp = (await device.post("/v1/me/totp")).json()["response"]
        wrong = "000000" if kit.code(totp["secret"]) != "000000" else "111111"
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": wrong})
        kit.error(response, 422, "form_code_incorrect")
        assert (await device.me())["totp_enabled"] is False


class TestBackupCodes:
    async def test_without_totp_not_available(self, kit: Any) -> None:
        """Backup codes need a verified TOTP: 400 backup_codes_not_available (also with a pending one)."""
        _, device = await kit.user_and_device()
        response = await device.post("/v1/me/backup_codes")
        kit.error(response, 400, "backup_codes_not_available")
        await device.post("/v1/me/totp")
        response = await device.post("/v1/me/backup_codes")
        kit.error(response, 400, "backup_codes_not_available")

    async def test_regenerate_replaces_the_whole_set(self, kit: Any) -> None:
        """After regenerating, every old code is rejected at sign-in and a new one works."""
        enrolled = await kit.enrolled_user()
        new_codes = (await enrolled.device.post("/v1/me/backup_codes")).json()["response"]["codes"]
        assert not set(new_codes) & set(enrolled.backup_codes)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for old in enrolled.backup_codes[:3]:
            response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", old)
            kit.error(response, 422, "form_code_incorrect")
        response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", new_codes[0])
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"

    async def test_first_verification_issues_codes_once(self, kit: Any) -> None:
        """Re-enrolling after a disable issues a fresh first set (old codes were removed on disable)."""
        enrolled = await kit.enrolled_user()
        await enrolled.device.delete("/v1/me/totp")
        secret, codes = await kit.enrol(enrolled.device)
        assert codes
        assert not set(codes) & set(enrolled.backup_codes)
        assert secret != enrolled.secret


class TestUserFlags:
    async def test_flags_and_timestamps_follow_the_lifecycle(self, kit: Any) -> None:
        """totp/backup/two-factor flags and mfa_enabled_at/mfa_disabled_at change with enrol and disable."""
        _, device = await kit.user_and_device()
        me = await device.me()
        assert (me["totp_enabled"], me["backup_code_enabled"], me["two_factor_enabled"]) == (False, False, False)
        assert (me["mfa_enabled_at"], me["mfa_disabled_at"]) == (None, None)

        await device.post("/v1/me/totp")
        me = await device.me()
        assert (me["totp_enabled"], me["two_factor_enabled"], me["mfa_enabled_at"]) == (False, False, None)

        enabled_at_ms = int(kit.clock.now * 1000)
        await kit.enrol(device)  # creates a new pending TOTP, then verifies it
        me = await device.me()
        assert (me["totp_enabled"], me["backup_code_enabled"], me["two_factor_enabled"]) == (True, True, True)
        assert me["mfa_enabled_at"] == enabled_at_ms
        assert me["mfa_disabled_at"] is None

        kit.clock.advance(100)
        disabled_at_ms = int(kit.clock.now * 1000)
        await device.delete("/v1/me/totp")
        me = await device.me()
        assert (me["totp_enabled"], me["backup_code_enabled"], me["two_factor_enabled"]) == (False, False, False)
        assert me["mfa_disabled_at"] == disabled_at_ms

    async def test_backup_code_flag_turns_off_when_all_used(self, kit: Any, make_config: Any) -> None:
        """backup_code_enabled is false once every code has been used."""
        enrolled = await kit.enrolled_user()
        for code in enrolled.backup_codes:
            device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
            response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", code)
            assert response.status_code == 200, response.text
        me = await enrolled.device.me()
        assert me["backup_code_enabled"] is False
        assert me["totp_enabled"] is True
        _, response = await kit.start_sign_in(enrolled.email)
        factors = [f["strategy"] for f in response.json()["response"]["supported_second_factors"]]
        assert factors == ["totp"]


class TestSecretShownOnce:
    async def test_secret_and_uri_only_in_the_create_answer(self, kit: Any) -> None:
        """Neither the verify answer nor /v1/me, /v1/client or BAPI ever contain the secret or the URI."""
        _, device = await kit.user_and_device()
        created = (await device.post("/v1/me/totp")).json()
        secret, uri = created["response"]["secret"], created["response"]["uri"]
        assert not contains(created["client"], secret)

        pending_me = (await device.get("/v1/me")).json()
        assert not contains(pending_me, secret)

        verified = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        answers = [
            verified.json(),
            (await device.get("/v1/me")).json(),
            (await device.get("/v1/client")).json(),
            (await device.post("/v1/me/backup_codes")).json(),
            (await kit.bapi_get_user((await device.me())["id"])).json(),
        ]
        for answer in answers:
            assert not contains(answer, secret), answer
            assert not contains(answer, uri), answer
            assert not contains(answer, "otpauth"), answer
        assert verified.json()["response"].get("secret") is None
        assert verified.json()["response"].get("uri") is None


class TestClientSnapshot:
    async def test_client_reflects_verify_and_disable(self, kit: Any) -> None:
        """The piggy-backed client in the verify/delete answers already shows the new totp_enabled."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        verified = (await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})).json()
        users = [s["user"] for s in verified["client"]["sessions"]]
        assert users
        assert all(u["totp_enabled"] and u["two_factor_enabled"] and u["backup_code_enabled"] for u in users)

        deleted = (await device.delete("/v1/me/totp")).json()
        users = [s["user"] for s in deleted["client"]["sessions"]]
        assert users
        assert not any(u["totp_enabled"] or u["two_factor_enabled"] or u["backup_code_enabled"] for u in users)
