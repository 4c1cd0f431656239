"""Clients, sign-ins and sessions: from identifier and password to an active session.

A sign-in belongs to the client that created it; ids of another client's sign-ins and sessions
answer 404 exactly like unknown ids. Wrong passwords and codes change nothing but attempt counters.

Session fixation: a new session is never put on a client whose token the caller sent. Whoever
planted that token in the browser (or shares it) would share the session. When a sign-in completes,
the caller's transport hands out a new client that only its answer's token reaches
(``reissue_client``); the completed sign-in and the client's sessions move to it, and the old
token keeps reaching the old client, left without sessions and without a sign-in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..core import errors
from ..core.audit import AuditEvent, AuditOutcome
from ..core.request_context import note_caller
from ..storage.records import ClientRecord, SessionRecord, SignInRecord, UserRecord
from .instance import Instance
from .mfa import MFAService

__all__ = ("AuthService", "ClientFactory")

ClientFactory = Callable[[], Awaitable[ClientRecord]]
"""Gives the caller's client: made if missing (``ensure_client``), or re-issued (``reissue_client``)."""

_LIVE = ("active", "pending")
_ABANDON_AFTER_MS = 30 * 24 * 3600 * 1000


class AuthService:
    """Sign-in, session and client operations; ``client`` is always the caller's own client."""

    __slots__ = ("instance", "mfa")

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.mfa = MFAService(instance)

    # --- sign-ins -------------------------------------------------------------------------------

    async def create_sign_in(
        self,
        ensure_client: ClientFactory,
        *,
        identifier: str,
        password: str | None,
        reissue_client: ClientFactory,
    ) -> SignInRecord:
        """Start a sign-in; with a password, verify it at once (``complete`` or ``needs_second_factor``).

        Credentials are checked before anything is stored: a wrong password or unknown identifier
        creates neither a client (``ensure_client`` is not called) nor a sign-in. A sign-in that
        completes at once puts its session on ``reissue_client()`` (see the module docstring).
        """
        instance = self.instance
        user = await instance.store.get_user_by_email(identifier.strip())
        if password is not None:
            hashed = user.password_hash if user is not None else None
            if not await instance.verify_password(hashed, password):
                await self._audit_first_factor(user, AuditOutcome.FAILURE, None)
                raise errors.form_identifier_not_found() if user is None else errors.form_password_incorrect()
        if user is None:
            raise errors.form_identifier_not_found()
        await self.mfa.refuse_if_locked(user, AuditEvent.SIGN_IN_FIRST_FACTOR)
        client = await ensure_client()
        now = instance.now_ms()
        sign_in = SignInRecord(
            id=instance.new_id("sia"),
            client_id=client.id,
            user_id=user.id,
            identifier=user.email,
            status="needs_first_factor",
            created_at=now,
            updated_at=now,
            abandon_at=now + instance.config.sign_in_lifetime * 1000,
        )
        await instance.store.create_sign_in(sign_in)
        if password is not None:
            return await self._first_factor_passed(client, sign_in, user, reissue_client)
        client.sign_in_id = sign_in.id
        client.updated_at = now
        await instance.store.update_client(client)
        return sign_in

    async def get_sign_in(self, client: ClientRecord | None, sign_in_id: str) -> SignInRecord:
        """The client's own sign-in, or 404 (also once an unfinished sign-in is past ``abandon_at``)."""
        sign_in, _ = await self._own_sign_in(client, sign_in_id)
        return sign_in

    async def _own_sign_in(self, client: ClientRecord | None, sign_in_id: str) -> tuple[SignInRecord, ClientRecord]:
        sign_in = await self.instance.store.get_sign_in(sign_in_id)
        if (
            client is None
            or sign_in is None
            or sign_in.client_id != client.id
            or (sign_in.status != "complete" and sign_in.abandon_at <= self.instance.now_ms())
        ):
            raise errors.resource_not_found(f"No sign in was found with id {sign_in_id[:64]}")
        return sign_in, client

    async def _user_of(self, sign_in: SignInRecord) -> UserRecord:
        user = await self.instance.store.get_user(sign_in.user_id) if sign_in.user_id else None
        if user is None:
            raise errors.client_state_invalid("this sign in")
        return user

    async def attempt_first_factor(
        self, client: ClientRecord | None, sign_in_id: str, *, password: str, reissue_client: ClientFactory
    ) -> SignInRecord:
        """Verify the password of a ``needs_first_factor`` sign-in; a completed one re-issues the client."""
        sign_in, client = await self._own_sign_in(client, sign_in_id)
        if sign_in.status != "needs_first_factor":
            raise errors.client_state_invalid("attempt_first_factor")
        user = await self._user_of(sign_in)
        await self.mfa.refuse_if_locked(
            user, AuditEvent.SIGN_IN_FIRST_FACTOR, strategy="password", sign_in_id=sign_in.id
        )
        if not await self.instance.verify_password(user.password_hash, password):
            sign_in.first_factor_strategy = "password"
            sign_in.first_factor_attempts += 1
            await self.instance.store.update_sign_in(sign_in)
            await self._audit_first_factor(user, AuditOutcome.FAILURE, sign_in)
            raise errors.form_password_incorrect()
        return await self._first_factor_passed(client, sign_in, user, reissue_client)

    async def _first_factor_passed(
        self, client: ClientRecord, sign_in: SignInRecord, user: UserRecord, reissue_client: ClientFactory
    ) -> SignInRecord:
        now = self.instance.now_ms()
        sign_in.first_factor_strategy = "password"
        sign_in.first_factor_verified = True
        sign_in.first_factor_verified_at = now
        sign_in.first_factor_attempts += 1
        sign_in.updated_at = now
        await self._audit_first_factor(user, AuditOutcome.SUCCESS, sign_in)
        if (await self.mfa.state(user.id)).has_totp:
            sign_in.status = "needs_second_factor"
            await self.instance.store.update_sign_in(sign_in)
            client.sign_in_id = sign_in.id
            client.updated_at = now
            await self.instance.store.update_client(client)
            return sign_in
        return await self._complete(client, sign_in, user, reissue_client, second_factor=False)

    async def attempt_second_factor(
        self,
        client: ClientRecord | None,
        sign_in_id: str,
        *,
        strategy: str,
        code: str,
        reissue_client: ClientFactory,
    ) -> SignInRecord:
        """Check a TOTP or backup code for a ``needs_second_factor`` sign-in; ``complete`` on success.

        The new session goes on ``reissue_client()`` (see the module docstring).
        """
        sign_in, client = await self._own_sign_in(client, sign_in_id)
        if sign_in.status != "needs_second_factor":
            raise errors.client_state_invalid("attempt_second_factor")
        user = await self._user_of(sign_in)
        state_factors = {f.strategy for f in (await self.mfa.state(user.id)).second_factors()}
        if strategy not in state_factors:
            raise errors.strategy_for_user_invalid()
        await self.mfa.refuse_if_locked(user, AuditEvent.VERIFICATION_FAILED, factor=strategy, purpose="sign_in")
        sign_in.second_factor_strategy = strategy
        if not await self.mfa.check_second_factor(user, strategy, code):
            await self.instance.store.record_second_factor_failure(sign_in.id)
            sign_in.second_factor_attempts += 1
            sign_in.updated_at = self.instance.now_ms()
            await self.instance.store.update_sign_in(sign_in)
            await self.mfa.register_failure(user, warn=True)
            raise errors.form_code_incorrect()
        sign_in.second_factor_verified = True  # consuming the code reset the failures (see Store)
        sign_in.second_factor_attempts += 1
        return await self._complete(client, sign_in, user, reissue_client, second_factor=True)

    async def _complete(
        self,
        client: ClientRecord,
        sign_in: SignInRecord,
        user: UserRecord,
        reissue_client: ClientFactory,
        *,
        second_factor: bool,
    ) -> SignInRecord:
        instance = self.instance
        client = await self._reissued(client, reissue_client)
        now = instance.now_ms()
        session = SessionRecord(
            id=instance.new_id("sess"),
            client_id=client.id,
            user_id=user.id,
            status="active",
            created_at=now,
            updated_at=now,
            last_active_at=now,
            expire_at=now + instance.config.session_lifetime * 1000,
            abandon_at=now + _ABANDON_AFTER_MS,
            first_factor_at=sign_in.first_factor_verified_at or now,
            second_factor_at=now if second_factor else None,
        )
        await instance.store.create_session(session)
        sign_in.status = "complete"
        sign_in.created_session_id = session.id
        sign_in.client_id = client.id
        sign_in.updated_at = now
        await instance.store.update_sign_in(sign_in)
        client.sign_in_id = None
        client.last_active_session_id = session.id
        client.last_authentication_strategy = "password"
        client.updated_at = now
        await instance.store.update_client(client)
        user.last_sign_in_at = now
        user.last_active_at = now
        user.updated_at = now
        await instance.store.update_user(user)
        await instance.audit(
            AuditEvent.SIGN_IN_COMPLETED,
            user_id=user.id,
            client_id=client.id,
            session_id=session.id,
            detail={
                "sign_in_id": sign_in.id,
                "first_factor": sign_in.first_factor_strategy,
                "second_factor": sign_in.second_factor_strategy if second_factor else None,
            },
        )
        return sign_in

    async def _reissued(self, client: ClientRecord, reissue_client: ClientFactory) -> ClientRecord:
        """The client the new session goes on; a re-issued one takes over ``client``'s sessions.

        Sessions move (status unchanged), so a second account signed in on the same browser keeps
        the first one; ``client`` is left with no sessions, no sign-in and no active session.
        """
        holder = await reissue_client()
        if holder.id == client.id:
            return client
        store = self.instance.store
        for session in await store.list_client_sessions(client.id):
            session.client_id = holder.id
            await store.update_session(session)
        client.sign_in_id = None
        client.last_active_session_id = None
        client.updated_at = self.instance.now_ms()
        await store.update_client(client)
        return holder

    async def _audit_first_factor(
        self, user: UserRecord | None, outcome: AuditOutcome, sign_in: SignInRecord | None
    ) -> None:
        """``sign_in.first_factor`` (password); an unknown identifier is recorded without a user (or the identifier)."""
        await self.instance.audit(
            AuditEvent.SIGN_IN_FIRST_FACTOR,
            outcome,
            user_id=user.id if user is not None else None,
            client_id=sign_in.client_id if sign_in is not None else None,
            detail={
                "strategy": "password",
                "sign_in_id": sign_in.id if sign_in is not None else None,
                "reason": "identifier_not_found" if user is None else None,
            },
        )

    # --- sessions -------------------------------------------------------------------------------

    async def get_session(self, client: ClientRecord | None, session_id: str) -> SessionRecord:
        """The client's own session, or 404."""
        session, _ = await self._own_session(client, session_id)
        return session

    async def _own_session(self, client: ClientRecord | None, session_id: str) -> tuple[SessionRecord, ClientRecord]:
        session = await self.instance.store.get_session(session_id)
        if client is None or session is None or session.client_id != client.id:
            raise errors.resource_not_found(f"No session was found with id {session_id[:64]}")
        note_caller(session_id=session.id)
        return session, client

    async def live_session(self, client: ClientRecord | None, session_id: str) -> SessionRecord:
        """The client's own session if still active; 404 unknown, 401 ended."""
        session, _ = await self._own_live_session(client, session_id)
        return session

    async def _own_live_session(
        self, client: ClientRecord | None, session_id: str
    ) -> tuple[SessionRecord, ClientRecord]:
        session, client = await self._own_session(client, session_id)
        if session.status not in _LIVE or session.expire_at <= self.instance.now_ms():
            raise errors.authentication_invalid()
        return session, client

    async def touch_session(self, client: ClientRecord | None, session_id: str) -> SessionRecord:
        """Make the session the client's active one and refresh ``last_active_at``."""
        session, client = await self._own_live_session(client, session_id)
        now = self.instance.now_ms()
        session.last_active_at = now
        session.updated_at = now
        await self.instance.store.update_session(session)
        client.last_active_session_id = session.id
        client.updated_at = now
        await self.instance.store.update_client(client)
        return session

    async def end_session(self, client: ClientRecord | None, session_id: str, *, status: str) -> SessionRecord:
        """Sign one session out: ``ended`` (``/end``) or ``removed`` (``/remove``). Idempotent."""
        session, client = await self._own_session(client, session_id)
        await self._end(session, status)
        await self._forget_ended(client, session)
        return session

    async def _forget_ended(self, client: ClientRecord, session: SessionRecord) -> None:
        """Point the client's ``last_active_session_id`` away from an ended ``session``."""
        if client.last_active_session_id == session.id:
            remaining = [s for s in await self.instance.store.list_client_sessions(client.id) if s.status in _LIVE]
            client.last_active_session_id = remaining[-1].id if remaining else None
        client.updated_at = self.instance.now_ms()
        await self.instance.store.update_client(client)

    # --- the user's sessions on every device (/v1/me/sessions) --------------------------------

    async def user_sessions(self, user: UserRecord, *, live_only: bool) -> list[SessionRecord]:
        """The user's sessions on every client, oldest first.

        ``live_only``: just the ``active`` / ``pending`` ones not yet past ``expire_at`` (Clerk's
        "Active devices"); otherwise every session the user ever had, whatever its status.
        """
        sessions = await self.instance.store.list_user_sessions(user.id)
        if not live_only:
            return sessions
        now = self.instance.now_ms()
        return [s for s in sessions if s.status in _LIVE and s.expire_at > now]

    async def revoke_user_session(self, user: UserRecord, session_id: str) -> SessionRecord:
        """Sign one of the user's sessions out on whichever client holds it (status ``revoked``).

        404 ``resource_not_found`` for an unknown id and for another user's session (nothing
        changes). Idempotent: a session that already ended keeps its status. Its tokens stop
        working at once, since every guard and ``/v1/me`` checks the stored status.
        """
        store = self.instance.store
        session = await store.get_session(session_id)
        if session is None or session.user_id != user.id:
            raise errors.resource_not_found(f"No session was found with id {session_id[:64]}")
        await self._end(session, "revoked")
        client = await store.get_client(session.client_id)
        if client is not None:
            await self._forget_ended(client, session)
        return session

    async def _end(self, session: SessionRecord, status: str = "ended") -> None:
        if session.status in _LIVE:
            session.status = status
            session.updated_at = self.instance.now_ms()
            await self.instance.store.update_session(session)
            await self.instance.audit(
                AuditEvent.SESSION_ENDED,
                user_id=session.user_id,
                client_id=session.client_id,
                session_id=session.id,
                detail={"status": status},
            )

    async def sign_out(self, client: ClientRecord) -> ClientRecord:
        """End every session of the client and drop its sign-in in progress."""
        for session in await self.instance.store.list_client_sessions(client.id):
            await self._end(session)
        client.sign_in_id = None
        client.last_active_session_id = None
        client.updated_at = self.instance.now_ms()
        await self.instance.store.update_client(client)
        return client

    async def current_user(
        self, client: ClientRecord | None, session_id: str | None
    ) -> tuple[UserRecord, SessionRecord]:
        """The user ``/v1/me`` acts on: ``_clerk_session_id`` or the client's last active session.

        401 ``authentication_invalid`` without a live session of this client.
        """
        wanted = session_id or (client.last_active_session_id if client else None)
        if client is None or not wanted:
            raise errors.authentication_invalid()
        session = await self.instance.store.get_session(wanted)
        if (
            session is None
            or session.client_id != client.id
            or session.status not in _LIVE
            or session.expire_at <= self.instance.now_ms()
        ):
            raise errors.authentication_invalid()
        user = await self.instance.store.get_user(session.user_id)
        if user is None:
            raise errors.authentication_invalid()
        note_caller(session_id=session.id)
        return user, session
