"""The audit log and request trace ids.

Every security event of the real flows (through the real app and a real SQLite file) is recorded
with its user, client, session, IP, trace id and outcome, also when the request answers an error;
the log is append-only, holds no secret, and is filtered by user and time in the Store and in
``totpkit audit``. Every answer and every ``totpkit`` log record of a request carries the same
``clerk_trace_id``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, TOTPKitPlugin
from totpkit_server.cli import main
from totpkit_server.cli_audit import parse_time
from totpkit_server.core.audit import check_detail
from totpkit_server.core.request_context import sequential_trace_ids
from totpkit_server.storage import AuditEventRecord, DuplicateError, Store
from totpkit_server.storage.sqlite import SQLiteStore

PASSWORD = "correct horse battery staple"
IMPORTED_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
IMPORTED_CODES = ["importedcode1", "importedcode2", "importedcode3"]
TRACE_ID = re.compile(r"[0-9a-f]{32}")
T0 = 1_700_000_000_000


def wrong_code(kit: Any, secret: str) -> str:
    """A 6-digit code that matches no step within ±2 of the fake clock."""
    valid = {kit.code(secret, steps) for steps in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


def trace_of(response: httpx.Response) -> str:
    """The answer's ``X-Clerk-Trace-Id`` (asserted to look like Clerk's)."""
    trace = response.headers["x-clerk-trace-id"]
    assert TRACE_ID.fullmatch(trace), trace
    return trace


async def audit_log(config: TOTPKitConfig, **filters: Any) -> list[AuditEventRecord]:
    """The audit events in the app's database, read through a second Store on the same file."""
    async with SQLiteStore(config.sqlite_path) as store:
        return await store.list_audit_events(limit=1000, **filters)


async def last_seq(config: TOTPKitConfig) -> int:
    events = await audit_log(config)
    return (events[-1].seq or 0) if events else 0


def summary(events: list[AuditEventRecord]) -> list[tuple[str, str]]:
    return [(e.event, e.outcome) for e in events]


async def client_id_of(device: Any) -> str:
    return str((await device.get("/v1/client")).json()["response"]["id"])


def event(user_id: str | None = None, at: int = T0, name: str = "totp.verified", **fields: Any) -> AuditEventRecord:
    """A record to append directly to a store."""
    return AuditEventRecord(
        id=f"audit_{at}_{name}_{user_id}", at=at, event=name, outcome="success", user_id=user_id, **fields
    )


class TestStore:
    """The Store's audit API: append order, filters, paging, bounds, duplicates, append-only."""

    @pytest.fixture
    async def stores(self, tmp_path: Path) -> Any:
        first, second = SQLiteStore(tmp_path / "db.sqlite"), SQLiteStore(tmp_path / "db.sqlite")
        async with first, second:
            yield first, second

    async def test_two_connections_append_in_one_growing_sequence(self, stores: tuple[Store, Store]) -> None:
        """Two processes' stores on one file get increasing ``seq``; listing returns every field as stored."""
        first, second = stores
        seqs = [
            await first.append_audit_event(event("user_a", T0, ip="203.0.113.7", trace_id="a" * 32)),
            await second.append_audit_event(event("user_b", T0 + 1, detail={"purpose": "sign_in", "remaining": 3})),
            await first.append_audit_event(event(None, T0 + 2, "sign_in.first_factor", client_id="client_x")),
        ]
        assert seqs == sorted(set(seqs))
        listed = await second.list_audit_events()
        assert [e.seq for e in listed] == seqs
        assert (listed[0].ip, listed[0].trace_id) == ("203.0.113.7", "a" * 32)
        assert listed[1].detail == {"purpose": "sign_in", "remaining": 3}
        assert (listed[2].user_id, listed[2].client_id, listed[2].event) == (None, "client_x", "sign_in.first_factor")

    async def test_filters_by_user_and_time_and_pages_by_seq(self, stores: tuple[Store, Store]) -> None:
        """``user_id`` exact, ``since`` inclusive, ``until`` exclusive, ``after_seq`` + ``limit`` page forward."""
        store, _ = stores
        for offset in range(6):
            await store.append_audit_event(event("user_a" if offset % 2 == 0 else "user_b", T0 + offset * 1000))
        user_a = await store.list_audit_events(user_id="user_a")
        assert [e.at for e in user_a] == [T0, T0 + 2000, T0 + 4000]
        window = await store.list_audit_events(since=T0 + 1000, until=T0 + 4000)
        assert [e.at for e in window] == [T0 + 1000, T0 + 2000, T0 + 3000]
        assert [e.at for e in await store.list_audit_events(user_id="user_b", since=T0 + 3000)] == [
            T0 + 3000,
            T0 + 5000,
        ]
        first_page = await store.list_audit_events(limit=4)
        second_page = await store.list_audit_events(after_seq=first_page[-1].seq or 0, limit=4)
        assert [e.at for e in first_page + second_page] == [T0 + i * 1000 for i in range(6)]
        assert await store.list_audit_events(user_id="user_nobody") == []
        assert await store.list_audit_events(since=T0 + 9000) == []

    @pytest.mark.parametrize("limit", [0, -1, 1001])
    async def test_limit_out_of_range_is_refused(self, stores: tuple[Store, Store], limit: int) -> None:
        """A page is 1-1000 events: anything else is a ValueError, not an unbounded read."""
        with pytest.raises(ValueError, match="limit"):
            await stores[0].list_audit_events(limit=limit)

    async def test_an_event_id_is_used_once(self, stores: tuple[Store, Store]) -> None:
        """Appending an id twice raises DuplicateError and leaves one entry."""
        await stores[0].append_audit_event(event("user_a"))
        with pytest.raises(DuplicateError):
            await stores[1].append_audit_event(event("user_a"))
        assert len(await stores[0].list_audit_events()) == 1

    async def test_the_table_refuses_update_and_delete(self, stores: tuple[Store, Store], tmp_path: Path) -> None:
        """Even with raw SQL on the file, entries cannot be changed or removed (triggers abort)."""
        await stores[0].append_audit_event(event("user_a"))
        with sqlite3.connect(tmp_path / "db.sqlite") as raw:
            for statement in (
                "UPDATE audit_events SET outcome = 'failure'",
                "UPDATE audit_events SET detail = '{}', user_id = NULL",
                "DELETE FROM audit_events",
            ):
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    raw.execute(statement)
        [kept] = await stores[1].list_audit_events()
        assert (kept.outcome, kept.user_id) == ("success", "user_a")


class TestDetailGuard:
    """No caller can put a secret-looking field or a structure into an event's detail."""

    @pytest.mark.parametrize(
        "key", ["code", "backup_code", "totp_secret", "password", "client_token", "uri", "otpauth_uri", "digest", "key"]
    )
    def test_secret_keys_are_refused(self, key: str) -> None:
        """A key naming a code, secret, password, token, URI, digest or key is a ValueError."""
        with pytest.raises(ValueError, match="secret"):
            check_detail({key: "x"})

    @pytest.mark.parametrize(
        "detail",
        [
            {"factor": ["totp"]},
            {"factor": {"a": 1}},
            {"Factor": "totp"},
            {"note": "x" * 201},
            {f"k{i}": i for i in range(17)},
        ],
    )
    def test_structures_bad_keys_and_long_text_are_refused(self, detail: dict[str, Any]) -> None:
        """Lists, maps, odd keys, text over 200 characters and more than 16 keys are refused."""
        with pytest.raises(ValueError, match="audit detail"):
            check_detail(detail)

    def test_counts_and_facts_pass(self) -> None:
        """Short facts and counts (``backup_codes`` is a count, allowed) pass unchanged."""
        detail = {"factor": "backup_code", "purpose": "sign_in", "backup_codes": 3, "totp": True, "reason": None}
        assert check_detail(detail) == detail
        assert check_detail(None) == {}


class TestFlows:
    """Each security event, produced by the real API flows, with the caller who caused it."""

    async def test_enrolment(self, kit: Any) -> None:
        """Create user, sign in, start and finish enrolment: each step recorded with client, session, IP, trace."""
        email = kit.new_email()
        created = await kit.bapi_create_user({"email_address": [email], "password": PASSWORD})
        user_id = created.json()["id"]
        device = await kit.sign_in(email)
        client_id, session_id = await client_id_of(device), await kit.active_session_id(device)
        started = await device.post("/v1/me/totp")
        secret = started.json()["response"]["secret"]
        verified = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        assert verified.status_code == 200, verified.text

        events = await audit_log(kit.config, user_id=user_id)
        assert summary(events) == [
            ("user.created", "success"),
            ("sign_in.first_factor", "success"),
            ("sign_in.completed", "success"),
            ("totp.enrolment_started", "success"),
            ("totp.enrolled", "success"),
            ("backup_codes.generated", "success"),
        ]
        user_created, first_factor, completed, enrolment_started, enrolled, generated = events
        assert (user_created.client_id, user_created.trace_id, user_created.ip) == (
            None,
            trace_of(created),
            "testclient",
        )
        assert first_factor.client_id == completed.client_id == client_id
        assert completed.session_id == session_id
        assert completed.detail == {
            "sign_in_id": first_factor.detail["sign_in_id"],
            "first_factor": "password",
            "second_factor": None,
        }
        for entry in (enrolment_started, enrolled, generated):
            assert (entry.client_id, entry.session_id, entry.ip) == (client_id, session_id, "testclient")
        assert enrolment_started.trace_id == trace_of(started)
        assert enrolled.trace_id == generated.trace_id == trace_of(verified)
        assert enrolled.detail == {"totp_id": verified.json()["response"]["id"]}
        assert generated.detail == {"count": 10, "reason": "enrolment"}
        assert len({e.id for e in events}) == len(events)

    async def test_wrong_enrolment_code_is_recorded_although_the_answer_is_422(self, kit: Any) -> None:
        """The failed verification is in the log with the trace id of the 422 answer."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        mark = await last_seq(kit.config)
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": wrong_code(kit, secret)})
        kit.error(response, 422, "form_code_incorrect")
        [failed] = await audit_log(kit.config, after_seq=mark)
        assert (failed.event, failed.outcome) == ("verification.failed", "failure")
        assert failed.detail == {"factor": "totp", "purpose": "enrolment"}
        assert failed.trace_id == response.json()["clerk_trace_id"] == trace_of(response)
        assert failed.user_id == (await device.me())["id"]

    async def test_sign_in_with_password_then_totp(self, kit: Any) -> None:
        """First factor, the TOTP accepted for the sign-in, and the completed sign-in naming its factors."""
        enrolled = await kit.enrolled_user()
        mark = await last_seq(kit.config)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        signing_in_client = await client_id_of(device)
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert response.status_code == 200, response.text
        events = await audit_log(kit.config, after_seq=mark)
        assert summary(events) == [
            ("sign_in.first_factor", "success"),
            ("totp.verified", "success"),
            ("sign_in.completed", "success"),
        ]
        first_factor, totp, completed = events
        assert {e.user_id for e in events} == {enrolled.user_id}
        assert first_factor.client_id == totp.client_id == signing_in_client
        # the session went on a re-issued client (session fixation); the sign-in id links the two
        assert completed.client_id == await client_id_of(device) != signing_in_client
        assert first_factor.detail == {"strategy": "password", "sign_in_id": sign_in_id, "reason": None}
        assert totp.detail == {"purpose": "sign_in"}
        assert completed.session_id == response.json()["response"]["created_session_id"]
        assert completed.detail == {"sign_in_id": sign_in_id, "first_factor": "password", "second_factor": "totp"}
        assert totp.trace_id == completed.trace_id == trace_of(response)

    async def test_sign_in_with_a_backup_code(self, kit: Any) -> None:
        """The consumed backup code is recorded with the number left; the sign-in names ``backup_code``."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        mark = await last_seq(kit.config)
        response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", enrolled.backup_codes[0])
        assert response.status_code == 200, response.text
        used, completed = await audit_log(kit.config, after_seq=mark)
        assert (used.event, used.detail) == ("backup_code.used", {"purpose": "sign_in", "remaining": 9})
        assert (completed.event, completed.detail["second_factor"]) == ("sign_in.completed", "backup_code")

    async def test_wrong_password_and_unknown_identifier(self, kit: Any) -> None:
        """Failed first factors are recorded; an unknown identifier without a user and without the identifier."""
        email = kit.new_email()
        user_id = (await kit.create_user(email))["id"]
        mark = await last_seq(kit.config)
        _, wrong = await kit.start_sign_in(email, "not the password at all")
        kit.error(wrong, 422, "form_password_incorrect")
        _, unknown = await kit.start_sign_in("nobody-here@example.com", "not the password at all")
        kit.error(unknown, 422, "form_identifier_not_found")
        device = kit.device()
        started = await device.post("/v1/client/sign_ins", data={"identifier": email})
        sign_in_id = started.json()["response"]["id"]
        attempt = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_first_factor",
            data={"strategy": "password", "password": "still not it"},
        )
        kit.error(attempt, 422, "form_password_incorrect")
        events = await audit_log(kit.config, after_seq=mark)
        assert summary(events) == [("sign_in.first_factor", "failure")] * 3
        assert [(e.user_id, e.detail["reason"], e.trace_id) for e in events] == [
            (user_id, None, trace_of(wrong)),
            (None, "identifier_not_found", trace_of(unknown)),
            (user_id, None, trace_of(attempt)),
        ]
        assert events[2].detail["sign_in_id"] == sign_in_id
        assert events[2].client_id == await client_id_of(device)
        assert "nobody-here" not in json.dumps([msgspec.to_builtins(e) for e in events])

    async def test_lockout_and_refused_attempts(
        self, live_apps: Any, make_config: Callable[..., TOTPKitConfig]
    ) -> None:
        """Three wrong codes (limit 3): three failures, then ``user.locked``; the next attempt is ``denied``."""
        kit = await live_apps.start(make_config(lockout_max_attempts=3))
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        mark = await last_seq(kit.config)
        bad = wrong_code(kit, enrolled.secret)
        statuses = [(await kit.attempt_second_factor(device, sign_in_id, "totp", bad)).status_code for _ in range(3)]
        assert statuses == [422, 422, 403]
        refused = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        kit.error(refused, 403, "user_locked")
        events = await audit_log(kit.config, after_seq=mark)
        assert summary(events) == [
            ("verification.failed", "failure"),
            ("verification.failed", "failure"),
            ("verification.failed", "failure"),
            ("user.locked", "success"),
            ("verification.failed", "denied"),
        ]
        assert events[3].detail == {"reason": "failed_verifications", "failed_attempts": 3}
        assert events[3].trace_id == events[2].trace_id
        assert events[4].detail == {"factor": "totp", "purpose": "sign_in"}
        assert events[4].trace_id == trace_of(refused)

    async def test_disable_and_regenerate(self, kit: Any) -> None:
        """Regenerating backup codes and disabling TOTP are recorded for the signed-in user."""
        enrolled = await kit.enrolled_user()
        mark = await last_seq(kit.config)
        assert (await enrolled.device.post("/v1/me/backup_codes")).status_code == 200
        disabled = await enrolled.device.delete("/v1/me/totp")
        assert disabled.status_code == 200, disabled.text
        regenerated, totp_disabled = await audit_log(kit.config, after_seq=mark)
        assert (regenerated.event, regenerated.detail) == (
            "backup_codes.generated",
            {"count": 10, "reason": "regenerated"},
        )
        assert totp_disabled.event == "totp.disabled"
        assert totp_disabled.detail == {"totp_id": disabled.json()["response"]["id"], "was_verified": True}
        assert totp_disabled.user_id == enrolled.user_id
        assert totp_disabled.session_id == await kit.active_session_id(enrolled.device)

    async def test_sign_out(self, kit: Any) -> None:
        """Ending, removing and signing out of sessions: one ``session.ended`` per live session, none twice."""
        email, device = await kit.user_and_device()
        first = await kit.active_session_id(device)
        await kit.sign_in(email, device=device)
        second = await kit.active_session_id(device)
        other = await kit.sign_in(email)
        other_session = await kit.active_session_id(other)
        mark = await last_seq(kit.config)
        assert (await device.post(f"/v1/client/sessions/{first}/end")).status_code == 200
        assert (await device.post(f"/v1/client/sessions/{first}/end")).status_code == 200  # idempotent
        assert (await device.post(f"/v1/client/sessions/{second}/remove")).status_code == 200
        assert (await other.delete("/v1/client")).status_code == 200
        events = await audit_log(kit.config, after_seq=mark)
        assert [(e.event, e.session_id, e.detail["status"]) for e in events] == [
            ("session.ended", first, "ended"),
            ("session.ended", second, "removed"),
            ("session.ended", other_session, "ended"),
        ]
        assert events[2].client_id == await client_id_of(other) != events[0].client_id

    async def test_reverification(self, kit: Any) -> None:
        """Step-up codes are told apart by ``purpose``; the session that re-verified is named on each event."""
        enrolled = await kit.enrolled_user()
        device, session_id = enrolled.device, await kit.active_session_id(enrolled.device)
        verify = f"/v1/client/sessions/{session_id}/verify"
        assert (await device.post(verify, data={"level": "second_factor"})).status_code == 200
        mark = await last_seq(kit.config)
        wrong = await device.post(
            f"{verify}/attempt_second_factor", data={"strategy": "totp", "code": wrong_code(kit, enrolled.secret)}
        )
        kit.error(wrong, 422)
        right = await device.post(
            f"{verify}/attempt_second_factor", data={"strategy": "totp", "code": kit.code(enrolled.secret)}
        )
        assert right.status_code == 200, right.text
        events = await audit_log(kit.config, after_seq=mark)
        assert [(e.event, e.outcome, e.detail.get("purpose")) for e in events] == [
            ("verification.failed", "failure", "reverification"),
            ("totp.verified", "success", "reverification"),
            ("session.reverified", "success", None),
        ]
        assert {e.session_id for e in events} == {session_id}
        assert events[0].trace_id == trace_of(wrong)
        assert events[2].detail == {"factor": "second_factor", "level": "second_factor", "status": "complete"}

    async def test_imported_mfa(self, kit: Any) -> None:
        """A Backend API user with imported secret and codes: ``user.created``, ``mfa.imported`` (counts only)."""
        user = await kit.create_user(totp_secret=IMPORTED_SECRET, backup_codes=IMPORTED_CODES)
        created, imported = await audit_log(kit.config, user_id=user["id"])
        assert (created.event, imported.event) == ("user.created", "mfa.imported")
        assert imported.detail == {"totp": True, "backup_codes": 3}


class TestNoSecrets:
    async def test_no_secret_code_password_or_token_in_the_log(
        self, kit: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """After every flow, neither the audit table nor the audit log lines contain any secret that was used."""
        caplog.set_level(logging.INFO, logger="totpkit")
        secrets: set[str] = {PASSWORD, IMPORTED_SECRET, *IMPORTED_CODES, "not the password at all"}
        imported = await kit.create_user(totp_secret=IMPORTED_SECRET, backup_codes=IMPORTED_CODES)
        email, device = await kit.user_and_device()
        created = (await device.post("/v1/me/totp")).json()["response"]
        secrets |= {created["secret"], created["uri"]}
        bad = wrong_code(kit, created["secret"])
        await device.post("/v1/me/totp/attempt_verification", data={"code": bad})
        good = kit.code(created["secret"])
        codes = (await device.post("/v1/me/totp/attempt_verification", data={"code": good})).json()["response"]
        secrets |= {bad, good, *codes["backup_codes"], device.token}
        kit.next_step()
        regenerated = (await device.post("/v1/me/backup_codes")).json()["response"]["codes"]
        secrets |= set(regenerated)
        await kit.start_sign_in(email, "not the password at all")
        for strategy, code in (("totp", kit.code(created["secret"])), ("totp", bad), ("backup_code", regenerated[0])):
            other, sign_in_id = await kit.second_factor_sign_in(email)
            answer = await kit.attempt_second_factor(other, sign_in_id, strategy, code)
            secrets |= {code, other.token}
            if answer.status_code == 200:
                secrets |= {s["last_active_token"]["jwt"] for s in answer.json()["client"]["sessions"]}
        other, sign_in_id = await kit.second_factor_sign_in(imported["email_addresses"][0]["email_address"])
        await kit.attempt_second_factor(other, sign_in_id, "backup_code", IMPORTED_CODES[0])

        with sqlite3.connect(kit.config.sqlite_path) as raw:
            rows = raw.execute("SELECT * FROM audit_events").fetchall()
        assert len(rows) >= 15
        stored = "\n".join(" ".join(str(value) for value in row) for row in rows)
        logged = "\n".join(
            f"{r.getMessage()} {sorted((k, v) for k, v in vars(r).items() if k.startswith('audit_'))}"
            for r in caplog.records
            if r.name == "totpkit.audit"
        )
        assert logged.count("audit ") >= 15
        for text in (stored, logged):
            tokens = set(re.split(r"[^A-Za-z0-9_.:/=+-]+", text))
            for secret in secrets:
                assert secret not in tokens, secret
                assert len(secret) < 12 or secret not in text, secret


class TestTraceIds:
    async def test_every_answer_has_its_own_trace_id(self, kit: Any) -> None:
        """Successful answers carry ``X-Clerk-Trace-Id`` too, new per request; errors repeat it in the body."""
        first, second = await kit.http.get("/v1/environment"), await kit.http.get("/v1/environment")
        assert first.status_code == second.status_code == 200
        assert trace_of(first) != trace_of(second)
        error = await kit.http.get("/v1/me")
        assert error.json()["clerk_trace_id"] == trace_of(error)
        unknown_path = await kit.http.get("/v1/no/such/route")
        assert unknown_path.json()["clerk_trace_id"] == trace_of(unknown_path)

    async def test_trace_ids_come_from_the_configured_factory(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """``trace_id_factory`` is injected like the clock: a sequential one gives predictable ids."""
        config = make_config(trace_id_factory=sequential_trace_ids())
        async with AsyncTestClient(Litestar(plugins=[TOTPKitPlugin(config)]), base_url="http://t.local") as http:
            ok, failed = await http.get("/v1/environment"), await http.get("/v1/me")
        assert ok.headers["x-clerk-trace-id"] == f"{1:032x}"
        assert failed.json()["clerk_trace_id"] == failed.headers["x-clerk-trace-id"] == f"{2:032x}"

    async def test_log_records_of_a_request_carry_its_trace_id(
        self, kit: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Every ``totpkit`` record logged while serving a request has ``clerk_trace_id`` = the answer's."""
        caplog.set_level(logging.INFO, logger="totpkit")
        email = kit.new_email()
        await kit.create_user(email)
        caplog.clear()
        _, response = await kit.start_sign_in(email, "not the password at all")
        records = [r for r in caplog.records if r.name.startswith("totpkit")]
        assert [r.name for r in records] == ["totpkit.audit"]
        assert records[0].clerk_trace_id == response.json()["clerk_trace_id"] == trace_of(response)
        assert (records[0].audit_event, records[0].audit_outcome) == ("sign_in.first_factor", "failure")
        assert records[0].levelno == logging.INFO

    async def test_error_records_of_other_totpkit_loggers_carry_it_too(
        self, kit: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An internal failure (a tampered sealed secret) is logged with the trace id of its 500 answer."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        with sqlite3.connect(kit.config.sqlite_path) as raw:
            raw.execute("UPDATE totp_credentials SET sealed_secret = sealed_secret || 'x'")
        caplog.clear()
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        assert response.status_code == 500, response.text
        [record] = [r for r in caplog.records if r.name == "totpkit.mfa"]
        assert record.levelno == logging.ERROR
        assert record.clerk_trace_id == response.json()["clerk_trace_id"] == trace_of(response)

    async def test_concurrent_requests_keep_their_own_context(self, concurrent_kit: Any) -> None:
        """Interleaved requests never mix trace ids: each failure is recorded with its own answer's id."""
        kit = concurrent_kit
        email = kit.new_email()
        user_id = (await kit.create_user(email))["id"]
        mark = await last_seq(kit.config)
        answers = await asyncio.gather(*(kit.start_sign_in(email, f"wrong password {n}") for n in range(8)))
        events = await audit_log(kit.config, after_seq=mark)
        assert sorted(e.trace_id or "" for e in events) == sorted(trace_of(response) for _, response in answers)
        assert {e.user_id for e in events} == {user_id}


@get("/audit-of/{user_id:str}")
async def audit_of(user_id: FromPath[str], totpkit_store: NamedDependency[Store]) -> list[dict[str, Any]]:
    events = await totpkit_store.list_audit_events(user_id=user_id)
    return [msgspec.to_builtins(e) for e in events]


class TestHostApp:
    async def test_host_handlers_read_the_log_through_the_store_dependency(
        self, make_config: Callable[..., TOTPKitConfig]
    ) -> None:
        """A host app's own route lists a user's events; its answers get no totpkit trace header."""
        config = make_config(path_prefix="/auth")
        app = Litestar(route_handlers=[audit_of], plugins=[TOTPKitPlugin(config)])
        async with AsyncTestClient(app, base_url="http://host.local") as http:
            created = await http.post(
                "/auth/v1/users",
                json={"email_address": ["host-audit@example.com"], "password": PASSWORD},
                headers={"Authorization": f"Bearer {config.secret_key}"},
            )
            listed = await http.get(f"/audit-of/{created.json()['id']}")
        assert [(e["event"], e["trace_id"]) for e in listed.json()] == [("user.created", trace_of(created))]
        assert "x-clerk-trace-id" not in listed.headers


class TestCommandLine:
    async def test_audit_lists_filters_and_prints_json(self, kit: Any, capsys: pytest.CaptureFixture[str]) -> None:
        """``totpkit audit`` reads the data directory: table by default, JSON lines, user and time filters."""
        first = (await kit.create_user())["id"]
        kit.clock.advance(3600)
        second = (await kit.create_user())["id"]
        data_dir = str(kit.config.data_dir)

        def run(*args: str) -> list[dict[str, Any]]:
            assert main(["audit", "--data-dir", data_dir, "--json", *args]) == 0
            return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

        assert [e["user_id"] for e in await asyncio.to_thread(run)] == [first, second]
        assert [e["user_id"] for e in await asyncio.to_thread(run, "--user", second)] == [second]
        boundary = kit.clock.now - 1800
        assert [e["user_id"] for e in await asyncio.to_thread(run, "--since", str(boundary))] == [second]
        iso = "2023-11-14T22:43:35Z"  # START_TIME + 1800 s: between the two users
        assert parse_time(iso) == round(boundary * 1000)
        assert [e["user_id"] for e in await asyncio.to_thread(run, "--until", iso)] == [first]
        assert [e["user_id"] for e in await asyncio.to_thread(run, "--limit", "1")] == [first]
        [listed] = await asyncio.to_thread(run, "--user", first)
        assert set(listed) == {
            "seq",
            "id",
            "at",
            "event",
            "outcome",
            "user_id",
            "client_id",
            "session_id",
            "ip",
            "trace_id",
            "detail",
        }

        assert await asyncio.to_thread(main, ["audit", "--data-dir", data_dir, "--user", first]) == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0].split()[:3] == ["seq", "time", "(UTC)"]
        assert table[1].split()[1:4] == ["2023-11-14T22:13:35.000Z", "user.created", "success"]
        assert table[1].split()[4] == first
        assert table[-1] == "(1 event)"

    def test_bad_arguments_and_a_missing_database(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No database is not created but reported (exit 2); unreadable times and limits exit 2."""
        assert main(["audit", "--data-dir", str(tmp_path / "none")]) == 2
        assert "no data directory" in capsys.readouterr().err
        assert not (tmp_path / "none").exists()
        assert main(["audit", "--data-dir", str(tmp_path)]) == 2
        assert "no database" in capsys.readouterr().err
        assert not (tmp_path / "none").exists()
        for bad in (["--since", "yesterday"], ["--until", "inf"], ["--limit", "0"]):
            with pytest.raises(SystemExit) as exited:
                main(["audit", "--data-dir", str(tmp_path), *bad])
            assert exited.value.code == 2

    def test_a_real_server_process_and_the_cli_process(self, totpkit_process: Any) -> None:
        """End to end over TCP: ``totpkit audit`` prints the request's peer address and trace id, and
        ``totpkit serve`` logs the event with that trace id."""
        with httpx.Client(base_url=totpkit_process.url, trust_env=False, timeout=10) as http:
            response = http.post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                headers={"Authorization": ""},
                data={"identifier": totpkit_process.email, "password": "not the password at all"},
            )
        assert response.status_code == 422, response.text
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "totpkit_server",
                "audit",
                "--json",
                "--data-dir",
                str(totpkit_process.server.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(e["event"], e["outcome"], e["user_id"]) for e in events] == [
            ("user.created", "success", totpkit_process.user_id),
            ("sign_in.first_factor", "failure", totpkit_process.user_id),
        ]
        assert (events[0]["ip"], events[0]["trace_id"]) == (None, None)  # made by `totpkit create-user`
        assert (events[1]["ip"], events[1]["trace_id"]) == ("127.0.0.1", trace_of(response))
        logged = [line for line in totpkit_process.server.log_tail(400).splitlines() if " totpkit.audit " in line]
        assert len(logged) == 1, totpkit_process.server.log_tail()
        assert f"clerk_trace_id={trace_of(response)} audit sign_in.first_factor failure" in logged[0]
