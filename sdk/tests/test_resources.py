"""Every SDK method against mocked routes: request shape, decoded result, errors and argument checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import respx

from totpkit import (
    APIResponseValidationError,
    AsyncBackend,
    AsyncFrontend,
    AsyncSession,
    AsyncSignIn,
    AsyncUser,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    TotpkitError,
    UnprocessableEntityError,
)
from totpkit.types import JWK, JWKS, BackupCodes, DeletedObject, Token


@pytest.fixture(name="user")
async def fx_user(fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> AsyncUser:
    """A signed-in user handle (session sess_1)."""
    router.get("/v1/me").mock(return_value=wire.wrapped(wire.user(), wire.client(wire.session())))
    return await fapi.get_user()


class TestFrontendMethods:
    """The methods on AsyncFrontend itself."""

    async def test_get_environment(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """The bare environment decodes into types.Environment."""
        attributes = {
            "authenticator_app": {"enabled": True, "used_for_second_factor": True, "second_factors": ["totp"]}
        }
        router.get("/v1/environment").mock(return_value=wire.json({"user_settings": {"attributes": attributes}}))
        environment = await fapi.get_environment()
        assert environment.second_factors() == ["totp"]

    async def test_get_client_none(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """No client yet: None, and last_client stays None."""
        router.get("/v1/client").mock(return_value=wire.wrapped(None, None))
        assert await fapi.get_client() is None
        assert fapi.last_client is None

    async def test_get_client(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """An existing client is returned and remembered."""
        client = wire.client(wire.session())
        router.get("/v1/client").mock(return_value=wire.wrapped(client, client))
        assert await fapi.get_client() == client
        assert fapi.last_client == client

    async def test_sign_out(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """DELETE /v1/client returns the session-less client."""
        router.delete("/v1/client").mock(return_value=wire.wrapped(wire.client(), wire.client()))
        client = await fapi.sign_out()
        assert client is not None
        assert client.sessions == []

    async def test_get_jwks(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """The JWKS decodes into types.JWKS."""
        key = JWK(use="sig", kty="RSA", kid="ins_1", alg="RS256", n="AQAB", e="AQAB")
        router.get("/.well-known/jwks.json").mock(return_value=wire.json(JWKS(keys=[key])))
        assert await fapi.get_jwks() == JWKS(keys=[key])

    async def test_sign_in_with_password(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """identifier and password are form fields; the answer is an AsyncSignIn."""
        route = router.post("/v1/client/sign_ins").mock(
            return_value=wire.wrapped(wire.sign_in("needs_second_factor"), wire.client())
        )
        sign_in = await fapi.sign_in(identifier="jane@example.com", password="p&w d")
        assert isinstance(sign_in, AsyncSignIn)
        assert sign_in.status == "needs_second_factor"
        assert sign_in.id == "sia_1"
        assert sign_in.created_session_id is None
        assert route.calls.last.request.content == b"identifier=jane%40example.com&password=p%26w+d"

    async def test_sign_in_without_password(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """Without a password only the identifier (and an explicit strategy) are sent."""
        route = router.post("/v1/client/sign_ins").mock(
            return_value=wire.wrapped(wire.sign_in("needs_first_factor"), wire.client())
        )
        sign_in = await fapi.sign_in(identifier="jane@example.com", strategy="password")
        assert sign_in.status == "needs_first_factor"
        assert route.calls.last.request.content == b"identifier=jane%40example.com&strategy=password"

    async def test_sign_in_empty_identifier(self, fapi: AsyncFrontend, router: respx.MockRouter) -> None:
        """An empty identifier raises ValueError and sends nothing."""
        with pytest.raises(ValueError, match="identifier"):
            await fapi.sign_in(identifier="", password="pw")
        assert not router.calls

    async def test_get_user(self, user: AsyncUser, wire: Any) -> None:
        """GET /v1/me gives an AsyncUser with read-only conveniences."""
        assert user.data == wire.user()
        assert user.id == "user_1"
        assert user.primary_email_address == "jane@example.com"
        assert (user.totp_enabled, user.backup_code_enabled, user.two_factor_enabled) == (False, False, False)
        assert repr(user) == "<AsyncUser user_1 totp_enabled=False>"

    async def test_primary_email_missing(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """A user without a primary email address reports None."""
        router.get("/v1/me").mock(
            return_value=wire.wrapped(wire.user(primary_email_address_id=None), wire.client(wire.session()))
        )
        assert (await fapi.get_user()).primary_email_address is None

    async def test_get_user_signed_out(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """A 401 from /v1/me raises AuthenticationError."""
        router.get("/v1/me").mock(return_value=wire.error(401, "authentication_invalid"))
        with pytest.raises(AuthenticationError):
            await fapi.get_user()


class TestSessions:
    """get_session and the AsyncSession handle."""

    async def test_get_session_by_id(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """An explicit id is fetched from /v1/client/sessions/{id}."""
        router.get("/v1/client/sessions/sess_2").mock(return_value=wire.wrapped(wire.session("sess_2"), wire.client()))
        session = await fapi.get_session("sess_2")
        assert isinstance(session, AsyncSession)
        assert (session.id, session.status) == ("sess_2", "active")

    async def test_get_session_fetches_client_when_unknown(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """Without a known session the client is fetched first to find the active one."""
        client = wire.client(wire.session("sess_7"))
        router.get("/v1/client").mock(return_value=wire.wrapped(client, client))
        router.get("/v1/client/sessions/sess_7").mock(return_value=wire.wrapped(wire.session("sess_7"), client))
        assert (await fapi.get_session()).id == "sess_7"

    async def test_get_session_without_any(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """No session anywhere raises TotpkitError."""
        router.get("/v1/client").mock(return_value=wire.wrapped(None, None))
        with pytest.raises(TotpkitError, match="No active session"):
            await fapi.get_session()

    async def test_get_session_empty_id(self, fapi: AsyncFrontend, router: respx.MockRouter) -> None:
        """An empty session id raises ValueError before any request."""
        with pytest.raises(ValueError, match="session_id"):
            await fapi.get_session("")
        assert not router.calls

    async def test_session_methods(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """get_token, touch, end and reload hit their paths and refresh data."""
        router.get("/v1/client/sessions/sess_1").mock(return_value=wire.wrapped(wire.session(), wire.client()))
        tokens = router.post("/v1/client/sessions/sess_1/tokens").mock(return_value=wire.json(Token(jwt="x.y.z")))
        touch = router.post("/v1/client/sessions/sess_1/touch").mock(
            return_value=wire.wrapped(wire.session(), wire.client(wire.session()))
        )
        router.post("/v1/client/sessions/sess_1/end").mock(
            return_value=wire.wrapped(wire.session(status="ended"), wire.client())
        )
        session = await fapi.get_session("sess_1")
        assert await session.get_token() == "x.y.z"
        assert tokens.calls.last.request.content == b"organization_id="
        await session.touch()
        assert touch.calls.last.request.content == b"active_organization_id="
        assert fapi.session_id == "sess_1"
        await session.end()
        assert session.status == "ended"
        assert fapi.session_id is None
        await session.reload()
        assert session.status == "active"
        assert repr(session) == "<AsyncSession sess_1 status='active'>"

    async def test_token_for_unknown_session(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """A 404 from the tokens endpoint raises NotFoundError."""
        router.get("/v1/client/sessions/sess_1").mock(return_value=wire.wrapped(wire.session(), wire.client()))
        router.post("/v1/client/sessions/sess_1/tokens").mock(return_value=wire.error(404, "resource_not_found"))
        session = await fapi.get_session("sess_1")
        with pytest.raises(NotFoundError):
            await session.get_token(organization_id="org_1")


class TestSignInSteps:
    """AsyncSignIn steps each return a new snapshot."""

    @pytest.fixture(name="pending")
    async def fx_pending(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> AsyncSignIn:
        router.post("/v1/client/sign_ins").mock(
            return_value=wire.wrapped(wire.sign_in("needs_first_factor"), wire.client())
        )
        return await fapi.sign_in(identifier="jane@example.com")

    async def test_attempt_first_factor(self, pending: AsyncSignIn, router: respx.MockRouter, wire: Any) -> None:
        """The password is posted with strategy=password."""
        route = router.post("/v1/client/sign_ins/sia_1/attempt_first_factor").mock(
            return_value=wire.wrapped(wire.sign_in("needs_second_factor"), wire.client())
        )
        following = await pending.attempt_first_factor(password="pw")
        assert following is not pending
        assert following.status == "needs_second_factor"
        assert pending.status == "needs_first_factor"
        assert route.calls.last.request.content == b"strategy=password&password=pw"

    async def test_attempt_second_factor_completes(
        self, fapi: AsyncFrontend, pending: AsyncSignIn, router: respx.MockRouter, wire: Any
    ) -> None:
        """A complete answer makes the created session current."""
        route = router.post("/v1/client/sign_ins/sia_1/attempt_second_factor").mock(
            return_value=wire.wrapped(
                wire.sign_in("complete", created_session_id="sess_5"), wire.client(wire.session("sess_5"))
            )
        )
        done = await pending.attempt_second_factor(strategy="totp", code="123456")
        assert done.status == "complete"
        assert done.created_session_id == "sess_5"
        assert fapi.session_id == "sess_5"
        assert route.calls.last.request.content == b"strategy=totp&code=123456"

    async def test_attempt_second_factor_wrong_code(
        self, pending: AsyncSignIn, router: respx.MockRouter, wire: Any
    ) -> None:
        """form_code_incorrect raises UnprocessableEntityError naming the code field."""
        router.post("/v1/client/sign_ins/sia_1/attempt_second_factor").mock(
            return_value=wire.error(422, "form_code_incorrect", "Incorrect code", param="code")
        )
        with pytest.raises(UnprocessableEntityError) as caught:
            await pending.attempt_second_factor(strategy="backup_code", code="abc")
        assert caught.value.errors[0].meta == {"param_name": "code"}

    async def test_attempt_second_factor_empty_code(self, pending: AsyncSignIn, router: respx.MockRouter) -> None:
        """An empty code raises ValueError without a request."""
        calls = len(router.calls)
        with pytest.raises(ValueError, match="code"):
            await pending.attempt_second_factor(strategy="totp", code="")
        assert len(router.calls) == calls

    async def test_reload_and_supported_factors(
        self, pending: AsyncSignIn, router: respx.MockRouter, wire: Any
    ) -> None:
        """reload fetches GET /v1/client/sign_ins/{id}."""
        router.get("/v1/client/sign_ins/sia_1").mock(
            return_value=wire.wrapped(wire.sign_in("needs_first_factor"), wire.client())
        )
        again = await pending.reload()
        assert again.data == pending.data
        assert again.supported_second_factors == []
        assert repr(again) == "<AsyncSignIn sia_1 status='needs_first_factor'>"


class TestUserMethods:
    """The MFA methods of AsyncUser."""

    async def test_reload(self, user: AsyncUser, router: respx.MockRouter, wire: Any) -> None:
        """reload replaces data from GET /v1/me and keeps _clerk_session_id."""
        route = router.get("/v1/me").mock(
            return_value=wire.wrapped(wire.user(totp_enabled=True), wire.client(wire.session()))
        )
        await user.reload()
        assert user.totp_enabled is True
        assert route.calls.last.request.url.params["_clerk_session_id"] == "sess_1"

    async def test_create_totp(self, user: AsyncUser, router: respx.MockRouter, wire: Any) -> None:
        """create_totp returns the TOTP with its secret and URI."""
        route = router.post("/v1/me/totp").mock(return_value=wire.wrapped(wire.totp(), wire.client(wire.session())))
        totp = await user.create_totp()
        assert totp.secret == "JBSWY3DPEHPK3PXP"
        assert totp.uri is not None
        assert route.calls.last.request.url.params["_clerk_session_id"] == "sess_1"

    async def test_verify_totp_refreshes_user(self, user: AsyncUser, router: respx.MockRouter, wire: Any) -> None:
        """verify_totp posts the code and updates data from the client snapshot."""
        enrolled = wire.user(totp_enabled=True, two_factor_enabled=True, backup_code_enabled=True)
        route = router.post("/v1/me/totp/attempt_verification").mock(
            return_value=wire.wrapped(
                wire.totp(verified=True, backup_codes=["a", "b"]), wire.client(wire.session(user=enrolled))
            )
        )
        totp = await user.verify_totp(code="123456")
        assert totp.verified is True
        assert totp.backup_codes == ["a", "b"]
        assert route.calls.last.request.content == b"code=123456"
        assert (user.totp_enabled, user.two_factor_enabled, user.backup_code_enabled) == (True, True, True)

    async def test_verify_totp_empty_code(self, user: AsyncUser, router: respx.MockRouter) -> None:
        """An empty code raises ValueError without a request."""
        calls = len(router.calls)
        with pytest.raises(ValueError, match="code"):
            await user.verify_totp(code="")
        assert len(router.calls) == calls

    async def test_disable_totp(self, user: AsyncUser, router: respx.MockRouter, wire: Any) -> None:
        """disable_totp sends DELETE /v1/me/totp and returns the DeletedObject."""
        route = router.delete("/v1/me/totp").mock(
            return_value=wire.wrapped(
                DeletedObject(object="totp", id="totp_1", deleted=True), wire.client(wire.session())
            )
        )
        assert await user.disable_totp() == DeletedObject(object="totp", id="totp_1", deleted=True)
        assert route.called

    async def test_create_backup_code(self, user: AsyncUser, router: respx.MockRouter, wire: Any) -> None:
        """create_backup_code posts to /v1/me/backup_codes."""
        codes = BackupCodes(id="bcode_1", codes=["x"], created_at=1, updated_at=1)
        router.post("/v1/me/backup_codes").mock(return_value=wire.wrapped(codes, wire.client(wire.session())))
        assert await user.create_backup_code() == codes

    async def test_snapshot_without_the_user_keeps_data(
        self, user: AsyncUser, router: respx.MockRouter, wire: Any
    ) -> None:
        """If the snapshot does not contain the user, data is left as it was."""
        router.post("/v1/me/totp").mock(return_value=wire.wrapped(wire.totp(), None))
        before = user.data
        await user.create_totp()
        assert user.data is before

    @pytest.mark.parametrize(
        ("method", "path", "status", "code", "cls"),
        [
            ("create_totp", "/v1/me/totp", 400, "totp_already_enabled", BadRequestError),
            ("disable_totp", "/v1/me/totp", 404, "resource_not_found", NotFoundError),
            ("create_backup_code", "/v1/me/backup_codes", 400, "backup_codes_not_available", BadRequestError),
            ("verify_totp", "/v1/me/totp/attempt_verification", 422, "form_code_incorrect", UnprocessableEntityError),
            ("verify_totp", "/v1/me/totp/attempt_verification", 404, "resource_not_found", NotFoundError),
        ],
    )
    async def test_errors(
        self,
        user: AsyncUser,
        router: respx.MockRouter,
        wire: Any,
        method: str,
        path: str,
        status: int,
        code: str,
        cls: type[Exception],
    ) -> None:
        """Each documented failure raises its class with Clerk's code."""
        http_method = "DELETE" if method == "disable_totp" else "POST"
        router.route(method=http_method, path=path).mock(return_value=wire.error(status, code))
        call: Callable[..., Awaitable[object]] = getattr(user, method)
        with pytest.raises(cls) as caught:
            await (call(code="123456") if method == "verify_totp" else call())
        assert getattr(caught.value, "code", None) == code


class TestBackendMethods:
    """AsyncBackend users."""

    async def test_create_user_with_mfa(self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> None:
        """totp_secret and backup_codes are passed through; None keys are dropped."""
        route = router.post("/v1/users").mock(return_value=wire.json(wire.user(totp_enabled=True)))
        user = await bapi.create_user(
            email_address=["jane@example.com"], totp_secret="JBSWY3DPEHPK3PXP", backup_codes=["a1"]
        )
        assert user.totp_enabled is True
        assert (
            route.calls.last.request.content
            == b'{"email_address":["jane@example.com"],"totp_secret":"JBSWY3DPEHPK3PXP","backup_codes":["a1"]}'
        )

    async def test_get_user(self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> None:
        """GET /v1/users/{id} decodes a bare User."""
        router.get("/v1/users/user_1").mock(return_value=wire.json(wire.user()))
        assert (await bapi.get_user("user_1")).id == "user_1"

    async def test_get_user_path_is_encoded(self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> None:
        """A slash in an id cannot escape the path segment."""
        route = router.get("/v1/users/a%2Fb").mock(return_value=wire.json(wire.user()))
        await bapi.get_user("a/b")
        assert route.called

    async def test_get_user_empty_id(self, bapi: AsyncBackend, router: respx.MockRouter) -> None:
        """An empty user id raises ValueError before any request."""
        with pytest.raises(ValueError, match="user_id"):
            await bapi.get_user("")
        assert not router.calls

    async def test_bad_secret_key(self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> None:
        """A 401 raises AuthenticationError."""
        router.get("/v1/users/user_1").mock(return_value=wire.error(401, "authentication_invalid"))
        with pytest.raises(AuthenticationError):
            await bapi.get_user("user_1")

    async def test_unwrapped_answer_required(self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> None:
        """BAPI answers are bare users; the FAPI envelope does not decode."""
        router.get("/v1/users/user_1").mock(return_value=wire.wrapped(wire.user(), None))
        with pytest.raises(APIResponseValidationError, match="did not match"):
            await bapi.get_user("user_1")
