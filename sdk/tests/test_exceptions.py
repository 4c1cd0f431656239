"""The error hierarchy: which class each status raises, what it carries, and how it prints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import totpkit
from totpkit import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AsyncFrontend,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    TotpkitError,
    UnprocessableEntityError,
)
from totpkit.types import ClerkAPIError

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, PayloadTooLargeError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (503, InternalServerError),
    (405, APIStatusError),
    (418, APIStatusError),
]


@pytest.fixture(name="quiet_fapi")
def fx_quiet_fapi(http_client: httpx.AsyncClient) -> AsyncFrontend:
    """A frontend that never retries, so each error surfaces at once."""
    return AsyncFrontend("https://fapi.example.test", http_client=http_client, max_retries=0)


class TestStatusMapping:
    """Each status raises its own class."""

    @pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
    async def test_status_to_class(
        self, quiet_fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, status: int, cls: type[APIStatusError]
    ) -> None:
        """The exception's exact class and status_code follow the HTTP status."""
        router.get("/v1/environment").mock(return_value=wire.error(status, "some_code"))
        with pytest.raises(APIStatusError) as caught:
            await quiet_fapi.get_environment()
        assert type(caught.value) is cls
        assert caught.value.status_code == status
        assert caught.value.response.status_code == status

    @pytest.mark.parametrize(
        ("status", "cls"), [pair for pair in STATUS_CLASSES if pair[1] not in {APIStatusError, InternalServerError}]
    )
    def test_status_code_class_attribute(self, status: int, cls: type[APIStatusError]) -> None:
        """Each status subclass declares its status as a class attribute."""
        assert cls.status_code == status


class TestFields:
    """A status error carries Clerk's envelope."""

    async def test_clerk_fields(self, quiet_fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> None:
        """errors, code, clerk_trace_id, body and request are filled from the answer."""
        router.post("/v1/client/sign_ins").mock(
            return_value=wire.error(
                422, "form_password_incorrect", "Password is incorrect.", param="password", trace="f" * 32
            )
        )
        with pytest.raises(UnprocessableEntityError) as caught:
            await quiet_fapi.sign_in(identifier="jane@example.com", password="nope")
        error = caught.value
        assert error.code == "form_password_incorrect"
        assert error.errors == [
            ClerkAPIError(
                message="msg",
                long_message="Password is incorrect.",
                code="form_password_incorrect",
                meta={"param_name": "password"},
            )
        ]
        assert error.clerk_trace_id == "f" * 32
        assert isinstance(error.body, dict)
        assert error.body["errors"][0]["code"] == "form_password_incorrect"
        assert error.request.url.path == "/v1/client/sign_ins"

    async def test_str_names_status_code_message_and_trace(
        self, quiet_fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """str(err) has the status, the code, the long message and the trace id."""
        router.get("/v1/me").mock(
            return_value=wire.error(401, "authentication_invalid", "You need a session", trace="a" * 32)
        )
        with pytest.raises(AuthenticationError) as caught:
            await quiet_fapi.get_user()
        assert (
            str(caught.value)
            == f"Error code: 401 - authentication_invalid: You need a session (clerk_trace_id: {'a' * 32})"
        )

    async def test_non_clerk_body(self, quiet_fapi: AsyncFrontend, router: respx.MockRouter) -> None:
        """An HTML error page still raises the status class, with no Clerk errors."""
        router.get("/v1/environment").mock(return_value=httpx.Response(404, text="<h1>Not Found</h1>"))
        with pytest.raises(NotFoundError) as caught:
            await quiet_fapi.get_environment()
        assert caught.value.errors == []
        assert caught.value.code is None
        assert caught.value.clerk_trace_id is None
        assert caught.value.body == "<h1>Not Found</h1>"
        assert str(caught.value) == "Error code: 404"

    async def test_trace_id_header_fallback(self, quiet_fapi: AsyncFrontend, router: respx.MockRouter) -> None:
        """Without clerk_trace_id in the body, an x-clerk-trace-id header is used."""
        router.get("/v1/environment").mock(
            return_value=httpx.Response(500, json={"oops": 1}, headers={"x-clerk-trace-id": "t1"})
        )
        with pytest.raises(InternalServerError) as caught:
            await quiet_fapi.get_environment()
        assert caught.value.clerk_trace_id == "t1"
        assert caught.value.body == {"oops": 1}

    async def test_rate_limit_without_retry_after(
        self, quiet_fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """RateLimitError.retry_after is None when the header is missing."""
        router.get("/v1/environment").mock(return_value=wire.error(429, "too_many_requests"))
        with pytest.raises(RateLimitError) as caught:
            await quiet_fapi.get_environment()
        assert caught.value.retry_after is None


class TestResponseValidation:
    """A 2xx body that does not decode raises APIResponseValidationError."""

    @pytest.mark.parametrize("content", [b"not json", b'{"response": {"object": "totp"}, "client": null}', b"[]"])
    async def test_bad_success_body(
        self, quiet_fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, content: bytes
    ) -> None:
        """Garbage, a struct with missing fields, or the wrong JSON type are all rejected."""
        router.get("/v1/me").mock(return_value=httpx.Response(200, content=content))
        with pytest.raises(APIResponseValidationError) as caught:
            await quiet_fapi.get_user()
        assert caught.value.status_code == 200
        assert caught.value.response.content == content


class TestHierarchy:
    """The classes nest as the module docstring draws them."""

    def test_tree(self) -> None:
        """Every class descends from TotpkitError through APIError."""
        assert issubclass(APIError, TotpkitError)
        assert issubclass(APIStatusError, APIError)
        assert issubclass(totpkit.APIConnectionError, APIError)
        assert issubclass(totpkit.APITimeoutError, totpkit.APIConnectionError)
        assert issubclass(APIResponseValidationError, APIError)
        for _, cls in STATUS_CLASSES:
            assert issubclass(cls, APIStatusError)
