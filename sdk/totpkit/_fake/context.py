"""Who is calling, and how answers carry the client token back (the server's ``http/context.py``).

Native (``_is_native=1``, or an ``Authorization`` header without ``Origin``, cookie or dev-browser
token): the token travels in ``Authorization`` both ways. Dev browser: ``__clerk_db_jwt`` names a
token made by ``POST /v1/dev_browser``. Browser: the ``__client`` cookie, set when a client is made.
Browser origins follow the server's ``http/origins.py``: only accepted origins (``allowed_origins``,
else loopback) get CORS headers; a refused one gets 400 ``origin_invalid`` on client-bound routes,
state-changing methods and preflights.
A completed sign-in re-issues the client (:meth:`Call.reissue_client`), as the server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie

import httpx
import msgspec

from ..types import ClerkErrors
from ..types.origins import origin_allowed
from . import errors
from .params import Params, read_params
from .state import ClientRecord, FakeState

__all__ = (
    "Call",
    "cors_headers",
    "effective_method",
    "error_response",
    "identify",
    "json_response",
    "origin_refusal",
    "preflight_response",
)

_EXPOSED_HEADERS = "Authorization, Clerk-Db-Jwt, Retry-After, X-Clerk-Trace-Id"
_COOKIE_MAX_AGE = 365 * 24 * 3600
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Call:
    """One request as a handler sees it: the fake's state, the request and the identified client."""

    state: FakeState
    request: httpx.Request
    mode: str = "plain"
    """``plain`` (no client), ``bapi``, ``native``, ``dev_browser`` or ``cookie``."""
    client: ClientRecord | None = None
    token: str | None = None
    """The client token to echo in ``Authorization`` (native mode)."""
    new_token: str | None = None
    """The token of a client made by this request (set as a cookie in cookie mode)."""
    dev_browser: str | None = None
    new_dev_browser: str | None = None
    """A dev-browser token made by this request (answered in ``Clerk-Db-Jwt``)."""

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.url.params)

    def params(self) -> Params:
        """The request body's fields (read where the server reads them, so errors come in its order)."""
        return read_params(self.request, self.state.max_body_bytes)

    def ensure_client(self) -> ClientRecord:
        """The caller's client, made (and bound to the dev browser) if there is none yet."""
        if self.client is None:
            self.client = self.state.new_client()
            self.token = self.new_token = self.client.token
            if self.dev_browser is not None:
                self.state.dev_browsers[self.dev_browser] = self.client.token
        return self.client

    def reissue_client(self) -> ClientRecord:
        """The client a new session goes on: one only this answer's token reaches (session fixation).

        A client made by this request is kept, except in dev-browser mode; otherwise a new client
        (and in dev-browser mode a new dev-browser token bound to it) replaces :attr:`client`.
        """
        if self.client is not None and self.new_token is not None and self.mode != "dev_browser":
            return self.client
        self.client = self.state.new_client()
        self.token = self.new_token = self.client.token
        if self.mode == "dev_browser":
            self.dev_browser = self.new_dev_browser = self.state.new_id("dvb_")
            self.state.dev_browsers[self.dev_browser] = self.client.token
        return self.client


def identify(state: FakeState, request: httpx.Request) -> Call:
    """Find the calling client; see the module docstring for the order of the three ways."""
    query, headers = request.url.params, request.headers
    origin = headers.get("origin")
    if origin and not origin_allowed(origin, state.allowed_origins):
        raise errors.origin_invalid(origin)
    authorization = headers.get("authorization")
    cookie = SimpleCookie(headers.get("cookie", "")).get("__client")
    cookie_token = cookie.value if cookie is not None else None
    native = query.get("_is_native", "").lower() in ("1", "true")
    dev_token = query.get("__clerk_db_jwt") or query.get("__dev_session")
    if native or (authorization is not None and not origin and not cookie_token and not dev_token):
        if authorization is None:
            raise errors.request_header_missing("Authorization")
        if origin:
            raise errors.origin_authorization_conflict()
        token = authorization.removeprefix("Bearer").strip() or None
        client = _client_for(state, token)
        return Call(state, request, "native", client, token if client else None)
    if dev_token:
        if dev_token not in state.dev_browsers:
            raise errors.dev_browser_unauthenticated()
        bound = state.dev_browsers[dev_token]
        client = state.clients.get(bound) if bound else None
        return Call(state, request, "dev_browser", client, dev_browser=dev_token)
    return Call(state, request, "cookie", _client_for(state, cookie_token))


def effective_method(request: httpx.Request, allowed: tuple[str, ...]) -> str:
    """The method the caller means: ``_method`` on a POST, else the request's own; 405 if not ``allowed``."""
    method = request.method.upper()
    override = request.url.params.get("_method")
    if method == "POST" and override:
        method = override.upper()
    if method not in allowed:
        raise errors.method_not_allowed(method)
    return method


def _client_for(state: FakeState, token: str | None) -> ClientRecord | None:
    if not token or len(token) > 512:
        return None
    return state.clients.get(token)


def cors_headers(state: FakeState, request: httpx.Request) -> dict[str, str]:
    """CORS answer headers for a browser request from an accepted origin (echo it, allow credentials)."""
    origin = request.headers.get("origin")
    if not origin or not origin_allowed(origin, state.allowed_origins):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": _EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def origin_refusal(state: FakeState, request: httpx.Request) -> httpx.Response | None:
    """400 ``origin_invalid`` for a state-changing request or a preflight from a refused origin."""
    origin = request.headers.get("origin")
    method = request.method.upper()
    preflight = method == "OPTIONS" and "access-control-request-method" in request.headers
    if origin is None or not (preflight or method in _STATE_CHANGING) or origin_allowed(origin, state.allowed_origins):
        return None
    return error_response(state, request, errors.origin_invalid(origin))


def preflight_response(request: httpx.Request) -> httpx.Response | None:
    """204 with the CORS headers for a preflight from an accepted origin (after :func:`origin_refusal`)."""
    origin = request.headers.get("origin")
    if request.method != "OPTIONS" or origin is None or "access-control-request-method" not in request.headers:
        return None
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
        "Access-Control-Expose-Headers": _EXPOSED_HEADERS,
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Headers",
    }
    requested = request.headers.get("access-control-request-headers")
    if requested:
        headers["Access-Control-Allow-Headers"] = requested
    return httpx.Response(204, headers=headers)


def json_response(call: Call, body: object, *, cors: bool = True) -> httpx.Response:
    """A 200 JSON answer carrying the client token back the way the caller sent it."""
    headers = cors_headers(call.state, call.request) if cors else {}
    headers["content-type"] = "application/json"
    if call.mode == "native" and call.token is not None:
        headers["Authorization"] = call.token
    if call.new_dev_browser is not None:
        headers["Clerk-Db-Jwt"] = call.new_dev_browser
    if call.mode == "cookie" and call.new_token is not None:
        headers["Set-Cookie"] = f"__client={call.new_token}; HttpOnly; Max-Age={_COOKIE_MAX_AGE}; Path=/; SameSite=lax"
    return httpx.Response(200, content=msgspec.json.encode(body), headers=headers)


def error_response(state: FakeState, request: httpx.Request, error: errors.ClerkAPIException) -> httpx.Response:
    """``{"errors": [...], "meta": {}, "clerk_trace_id": ...}`` with the trace id also as a header."""
    trace_id = state.random_bytes(16).hex()
    body = ClerkErrors(errors=[error.to_error()], meta={}, clerk_trace_id=trace_id)
    headers = {**cors_headers(state, request), "X-Clerk-Trace-Id": trace_id, "content-type": "application/json"}
    return httpx.Response(error.status, content=msgspec.json.encode(body), headers=headers)
