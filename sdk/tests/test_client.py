"""The transport rules of AsyncFrontend and AsyncBackend: headers, tokens, URLs, lifecycle, timeouts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from totpkit import DEFAULT_API_VERSION, APIConnectionError, APITimeoutError, AsyncBackend, AsyncFrontend

BASE_URL = "https://fapi.example.test"


class TestFrontendHeaders:
    """Every FAPI request is a native-mode request."""

    async def test_first_request_sends_empty_authorization(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """Before the server issues a token, Authorization is present and empty."""
        route = router.get("/v1/client").mock(return_value=wire.wrapped(None))
        await fapi.get_client()
        request = route.calls.last.request
        assert request.headers["authorization"] == ""
        assert request.headers["clerk-api-version"] == DEFAULT_API_VERSION
        assert request.url.params["_is_native"] == "1"
        assert "content-type" not in request.headers

    async def test_api_version_is_configurable(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, wire: Any
    ) -> None:
        """The clerk-api-version header follows the constructor argument."""
        route = router.get("/v1/client").mock(return_value=wire.wrapped(None))
        fapi = AsyncFrontend(BASE_URL, http_client=http_client, api_version="2025-04-10")
        await fapi.get_client()
        assert route.calls.last.request.headers["clerk-api-version"] == "2025-04-10"

    async def test_non_get_sends_form_content_type_even_when_empty(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """A bodiless POST still says application/x-www-form-urlencoded, like clerk-js."""
        route = router.post("/v1/me/totp").mock(return_value=wire.wrapped(wire.totp(), wire.client(wire.session())))
        user_route = router.get("/v1/me").mock(return_value=wire.wrapped(wire.user(), wire.client(wire.session())))
        user = await fapi.get_user()
        await user.create_totp()
        request = route.calls.last.request
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.content == b""
        assert user_route.called

    async def test_delete_uses_the_real_method(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """sign_out sends DELETE, not POST with _method."""
        route = router.delete("/v1/client").mock(return_value=wire.wrapped(wire.client(), wire.client()))
        await fapi.sign_out()
        assert route.calls.last.request.method == "DELETE"
        assert "_method" not in route.calls.last.request.url.params


class TestClientToken:
    """The client token travels in the Authorization header both ways."""

    async def test_response_token_is_stored_and_sent_back(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """A token in the response Authorization header is echoed verbatim on the next request."""
        route = router.get("/v1/client").mock(
            side_effect=[wire.wrapped(None, authorization="tok_123"), wire.wrapped(None)]
        )
        await fapi.get_client()
        assert fapi.client_token == "tok_123"
        await fapi.get_client()
        assert route.calls.last.request.headers["authorization"] == "tok_123"

    @pytest.mark.parametrize("cleared", ["", "Bearer", " Bearer "])
    async def test_empty_or_bare_bearer_clears_the_token(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, wire: Any, cleared: str
    ) -> None:
        """An empty value or the bare word Bearer clears the stored token."""
        router.get("/v1/client").mock(return_value=wire.wrapped(None, authorization=cleared))
        fapi = AsyncFrontend(BASE_URL, http_client=http_client, client_token="tok_old")
        await fapi.get_client()
        assert fapi.client_token is None

    async def test_initial_token_is_sent(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, wire: Any
    ) -> None:
        """A client_token passed to the constructor resumes that client."""
        route = router.get("/v1/client").mock(return_value=wire.wrapped(None))
        fapi = AsyncFrontend(BASE_URL, http_client=http_client, client_token="tok_saved")
        await fapi.get_client()
        assert route.calls.last.request.headers["authorization"] == "tok_saved"

    async def test_token_is_taken_from_error_responses_too(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """An error answer that carries a token still updates it."""
        router.post("/v1/client/sign_ins").mock(
            return_value=wire.error(422, "form_password_incorrect", headers={"authorization": "tok_err"})
        )
        with pytest.raises(Exception, match="form_password_incorrect"):
            await fapi.sign_in(identifier="jane@example.com", password="x")
        assert fapi.client_token == "tok_err"


class TestSessionSelection:
    """/v1/me requests name the session with _clerk_session_id."""

    async def test_no_session_id_before_anything_is_known(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """Without a known session the parameter is left out."""
        route = router.get("/v1/me").mock(return_value=wire.wrapped(wire.user(), wire.client(wire.session())))
        await fapi.get_user()
        assert "_clerk_session_id" not in route.calls.last.request.url.params
        assert fapi.session_id == "sess_1"

    async def test_completed_sign_in_selects_its_session(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """The session created by the last completed sign-in wins over last_active_session_id."""
        client = wire.client(wire.session("sess_old"))
        router.post("/v1/client/sign_ins").mock(
            return_value=wire.wrapped(wire.sign_in("complete", created_session_id="sess_new"), client)
        )
        route = router.get("/v1/me").mock(return_value=wire.wrapped(wire.user(), client))
        await fapi.sign_in(identifier="jane@example.com", password="pw")
        await fapi.get_user()
        assert route.calls.last.request.url.params["_clerk_session_id"] == "sess_new"

    async def test_last_active_session_of_client_is_used(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """After GET /v1/client, the client's last_active_session_id is used."""
        router.get("/v1/client").mock(
            return_value=wire.wrapped(wire.client(wire.session("sess_9")), wire.client(wire.session("sess_9")))
        )
        route = router.get("/v1/me").mock(return_value=wire.wrapped(wire.user(), wire.client(wire.session("sess_9"))))
        await fapi.get_client()
        await fapi.get_user()
        assert route.calls.last.request.url.params["_clerk_session_id"] == "sess_9"

    async def test_client_paths_never_carry_the_session_id(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """/v1/client/... requests never send _clerk_session_id."""
        client = wire.client(wire.session("sess_9"))
        route = router.get("/v1/client").mock(return_value=wire.wrapped(client, client))
        await fapi.get_client()
        await fapi.get_client()
        assert "_clerk_session_id" not in route.calls.last.request.url.params

    async def test_sign_out_forgets_the_session(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """After sign_out, no session is selected."""
        router.post("/v1/client/sign_ins").mock(
            return_value=wire.wrapped(
                wire.sign_in("complete", created_session_id="sess_1"), wire.client(wire.session())
            )
        )
        router.delete("/v1/client").mock(return_value=wire.wrapped(wire.client(), wire.client()))
        await fapi.sign_in(identifier="jane@example.com", password="pw")
        assert fapi.session_id == "sess_1"
        await fapi.sign_out()
        assert fapi.session_id is None
        assert fapi.last_client is not None
        assert fapi.last_client.sessions == []


class TestURLs:
    """Requests use absolute URLs built from base_url."""

    async def test_base_url_with_path_prefix(self, wire: Any) -> None:
        """A base URL with a path prefix is kept in front of /v1/..."""
        router = respx.MockRouter(assert_all_called=False)
        route = router.get("https://host.test/fapi/v1/environment").mock(return_value=wire.json({}))
        async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http_client:
            fapi = AsyncFrontend("https://host.test/fapi/", http_client=http_client)
            await fapi.get_environment()
        assert route.called
        assert fapi.base_url == "https://host.test/fapi"

    async def test_jwks_is_at_the_root(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """The JWKS lives at /.well-known/jwks.json, not under /v1."""
        route = router.get("/.well-known/jwks.json").mock(return_value=wire.json({"keys": []}))
        jwks = await fapi.get_jwks()
        assert route.called
        assert jwks.keys == []

    async def test_http_client_base_url_is_ignored(self, router: respx.MockRouter, wire: Any) -> None:
        """An injected client's own base_url does not change where requests go."""
        route = router.get("/v1/environment").mock(return_value=wire.json({}))
        transport = httpx.MockTransport(router.async_handler)
        async with httpx.AsyncClient(transport=transport, base_url="https://elsewhere.test/x") as http_client:
            await AsyncFrontend(BASE_URL, http_client=http_client).get_environment()
        assert route.called


class TestLifecycle:
    """Who closes the HTTP client."""

    async def test_injected_http_client_is_not_closed(self, router: respx.MockRouter, wire: Any) -> None:
        """Closing the SDK client leaves an injected httpx client open."""
        router.get("/v1/environment").mock(return_value=wire.json({}))
        async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http_client:
            async with AsyncFrontend(BASE_URL, http_client=http_client) as fapi:
                await fapi.get_environment()
            assert not http_client.is_closed
            async with AsyncBackend(BASE_URL, secret_key="sk", http_client=http_client):
                pass
            assert not http_client.is_closed

    async def test_own_http_client_is_closed(self) -> None:
        """A client the SDK created is closed on exit."""
        async with AsyncFrontend(BASE_URL) as fapi:
            pass
        assert fapi._http.is_closed

    def test_invalid_arguments(self) -> None:
        """An empty base URL, a negative max_retries or an empty secret key is refused."""
        with pytest.raises(ValueError, match="base_url"):
            AsyncFrontend("")
        with pytest.raises(ValueError, match="max_retries"):
            AsyncFrontend(BASE_URL, max_retries=-1)
        with pytest.raises(ValueError, match="secret_key"):
            AsyncBackend(BASE_URL, secret_key="")

    def test_repr(self) -> None:
        """The repr names the base URL."""
        assert repr(AsyncFrontend(BASE_URL)) == f"<AsyncFrontend {BASE_URL!r} session_id=None>"
        assert repr(AsyncBackend(BASE_URL, secret_key="sk")) == f"<AsyncBackend {BASE_URL!r}>"


class TestTimeouts:
    """Timeouts and connection failures become SDK exceptions."""

    async def test_timeout_raises_api_timeout_error(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter
    ) -> None:
        """A read timeout, with retries off, raises APITimeoutError carrying the request."""
        router.get("/v1/environment").mock(side_effect=httpx.ReadTimeout("slow"))
        fapi = AsyncFrontend(BASE_URL, http_client=http_client, max_retries=0)
        with pytest.raises(APITimeoutError) as caught:
            await fapi.get_environment()
        assert caught.value.request.url.path == "/v1/environment"
        assert str(caught.value) == "Request timed out."
        assert isinstance(caught.value, APIConnectionError)

    async def test_connection_error(self, http_client: httpx.AsyncClient, router: respx.MockRouter) -> None:
        """A refused connection raises APIConnectionError (not a timeout)."""
        router.get("/v1/environment").mock(side_effect=httpx.ConnectError("refused"))
        fapi = AsyncFrontend(BASE_URL, http_client=http_client, max_retries=0)
        with pytest.raises(APIConnectionError) as caught:
            await fapi.get_environment()
        assert not isinstance(caught.value, APITimeoutError)
        assert caught.value.body is None

    async def test_timeout_is_applied_per_request(self, router: respx.MockRouter, wire: Any) -> None:
        """The configured timeout reaches every request, even through an injected client."""
        route = router.get("/v1/environment").mock(return_value=wire.json({}))
        async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http_client:
            await AsyncFrontend(BASE_URL, http_client=http_client, timeout=3.0).get_environment()
        assert route.calls.last.request.extensions["timeout"]["read"] == 3.0


class TestBackendHeaders:
    """BAPI requests carry the secret key and JSON bodies."""

    async def test_secret_key_and_json_body(self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> None:
        """create_user sends Bearer auth and a JSON body without None keys."""
        route = router.post("/v1/users").mock(return_value=wire.json(wire.user()))
        await bapi.create_user(email_address=["jane@example.com"], password="pw")
        request = route.calls.last.request
        assert request.headers["authorization"] == "Bearer sk_test_abc"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["clerk-api-version"] == DEFAULT_API_VERSION
        assert "_is_native" not in request.url.params
        assert request.content == b'{"email_address":["jane@example.com"],"password":"pw"}'
