"""Who is calling: the client behind a request, found in one of Clerk's three ways.

1. Native (``_is_native=1``): the client token is the ``Authorization`` header; the answer echoes
   the token in its own ``Authorization`` header. (An ``Authorization`` header without ``Origin`` and
   without a cookie is read the same way, for curl users.)
2. Dev browser (development only): ``__clerk_db_jwt`` in the query names a token made by
   ``POST /v1/dev_browser``. With ``config.production`` the parameter is ignored: it never
   identifies a client.
3. Browser: the ``__client`` cookie.

Client tokens are random and stored only as SHA-256 hashes. An unknown token means "no client yet"
(never a 5xx, never a 401, except an unknown dev-browser token: 401 ``dev_browser_unauthenticated``).
A request whose ``Origin`` is not accepted (:func:`~totpkit_server.core.origins.origin_allowed`)
answers 400 ``origin_invalid`` before any client is looked up.

When a sign-in completes, the caller gets a new client and token (:meth:`ClientContext.reissue_client`):
a new ``__client`` cookie, a new ``Authorization`` value, or in dev-browser mode a new dev-browser
token in the ``Clerk-Db-Jwt`` response header, which clerk-js adopts as its ``__clerk_db_jwt``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection

from totpkit.types import ClientWrapped

from ..core import errors
from ..core.origins import origin_allowed
from ..core.request_context import note_caller
from ..core.tokens import hash_token, new_opaque_token
from ..services import Instance, Renderer
from ..storage.records import ClientRecord
from .creation_limit import charge_creation

__all__ = (
    "CLIENT_COOKIE",
    "DEV_BROWSER_HEADER",
    "EXPOSED_HEADERS",
    "ClientContext",
    "cors_headers",
    "resolve_context",
    "token_issuer",
)

CLIENT_COOKIE = "__client"
Mode = Literal["native", "dev_browser", "cookie"]
EXPOSED_HEADERS = "Authorization, Clerk-Db-Jwt, Retry-After, X-Clerk-Trace-Id"
DEV_BROWSER_HEADER = "Clerk-Db-Jwt"
_DEV_BROWSER_PREFIX = "dvb_"
_COOKIE_MAX_AGE = 365 * 24 * 3600


def cors_headers(request: Request[Any, Any, Any], allowed_origins: tuple[str, ...] | None) -> dict[str, str]:
    """CORS answer headers for a browser request from an accepted origin (echo it, allow credentials).

    None for a request without ``Origin`` or from an origin :func:`origin_allowed` refuses
    (``null`` included): the browser then keeps the answer from the page.
    """
    origin = request.headers.get("origin")
    if not origin or not origin_allowed(origin, allowed_origins):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


class ClientContext:
    """The calling client (if any) and how to hand its token back."""

    __slots__ = (
        "_new_dev_browser_token",
        "_new_token",
        "_token",
        "client",
        "dev_browser_hash",
        "instance",
        "mode",
        "renderer",
        "request",
    )

    def __init__(
        self,
        *,
        instance: Instance,
        request: Request[Any, Any, Any],
        mode: Mode,
        client: ClientRecord | None,
        token: str | None,
        dev_browser_hash: str | None,
    ) -> None:
        self.instance = instance
        self.request = request
        self.mode = mode
        self.client = client
        note_caller(client_id=client.id if client is not None else None)
        self._token = token
        self._new_token: str | None = None
        self._new_dev_browser_token: str | None = None
        self.dev_browser_hash = dev_browser_hash
        self.renderer = Renderer(instance, issuer=token_issuer(instance, request), origin=request.headers.get("origin"))

    async def ensure_client(self) -> ClientRecord:
        """The caller's client, created (and its token handed out) if there is none yet.

        A creation is charged to the caller's address first (429 past ``rate_limit_creations_per_ip``).
        """
        if self.client is not None:
            return self.client
        await charge_creation(self.request, self.instance)
        client = await self._issue_client()
        if self.dev_browser_hash is not None:
            await self.instance.store.bind_dev_browser(self.dev_browser_hash, client.id)
        return client

    async def reissue_client(self) -> ClientRecord:
        """The client a new session may go on: one that only this answer's token reaches.

        A client this request created is kept: its token was never out of the server. Otherwise
        (the caller sent the token, or in dev-browser mode always, since the dev-browser token came
        with the request and may have been planted through a ``__clerk_db_jwt`` link) a new client
        with a new token is made and becomes :attr:`client`; in dev-browser mode a new dev-browser
        token is bound to it and answered in ``Clerk-Db-Jwt``. The old token still finds the old
        client (the caller moves its sessions off). Not charged to the creation limit: the caller has
        just proved who it is, and the answer must not fail once the sign-in's factor was consumed.
        """
        if self.client is not None and self._new_token is not None and self.mode != "dev_browser":
            return self.client
        client = await self._issue_client()
        if self.mode == "dev_browser":
            instance = self.instance
            dev_token = _DEV_BROWSER_PREFIX + new_opaque_token(instance.random_bytes)
            dev_hash = hash_token(dev_token)
            await instance.store.create_dev_browser(dev_hash, instance.now_ms())
            await instance.store.bind_dev_browser(dev_hash, client.id)
            self.dev_browser_hash, self._new_dev_browser_token = dev_hash, dev_token
        return client

    async def _issue_client(self) -> ClientRecord:
        """A new client whose token this answer carries (cookie or ``Authorization``)."""
        instance = self.instance
        token = new_opaque_token(instance.random_bytes)
        now = instance.now_ms()
        client = ClientRecord(
            id=instance.new_id("client"), token_hash=hash_token(token), created_at=now, updated_at=now
        )
        await instance.store.create_client(client)
        self.client, self._token, self._new_token = client, token, token
        note_caller(client_id=client.id)
        return client

    def respond(self, content: bytes, *, status_code: int = 200) -> Response[bytes]:
        """A JSON answer carrying the client token back the way the caller sent it."""
        headers = cors_headers(self.request, self.instance.config.allowed_origins)
        response: Response[bytes] = Response(
            content, status_code=status_code, media_type="application/json", headers=headers
        )
        if self.mode == "native" and self._token is not None:
            response.headers["Authorization"] = self._token
        if self._new_dev_browser_token is not None:
            response.headers[DEV_BROWSER_HEADER] = self._new_dev_browser_token
        if self.mode == "cookie" and self._new_token is not None:
            response.set_cookie(
                CLIENT_COOKIE,
                self._new_token,
                max_age=_COOKIE_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=self.instance.config.cookie_secure,
                path="/",
            )
        return response

    def clear_cookie(self, response: Response[bytes]) -> None:
        """Forget the ``__client`` cookie (after the client was deleted)."""
        if self.mode == "cookie":
            response.delete_cookie(CLIENT_COOKIE, path="/")

    async def wrapped(self, resource: Any, *, status_code: int = 200) -> Response[bytes]:
        """``{"response": resource, "client": <the client as it is now>}``."""
        client = await self.renderer.client(self.client)
        return self.respond(
            msgspec.json.encode(ClientWrapped(response=resource, client=client)), status_code=status_code
        )


def token_issuer(instance: Instance, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The ``iss`` of session tokens minted (and verified) for ``connection``.

    ``config.issuer_url`` if set (always in production). Otherwise (development) the address the
    server socket accepted the connection on, the ASGI ``server`` (``http://127.0.0.1:8000``; the
    default port of the scheme is left out), plus ``path_prefix``; ``http://localhost`` when the
    server does not say. Never the ``Host`` header: a caller must not choose the issuer.
    """
    config = instance.config
    if config.issuer_url:
        return config.issuer_url
    return _socket_base_url(connection) + config.path_prefix.rstrip("/")


def _socket_base_url(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme = "https" if connection.scope.get("scheme") in ("https", "wss") else "http"
    server = connection.scope.get("server")
    if not server or not server[0] or server[1] is None:
        return f"{scheme}://localhost"
    host, port = str(server[0]), int(server[1])
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def _check_origin(instance: Instance, origin: str | None) -> None:
    if origin and not origin_allowed(origin, instance.config.allowed_origins):
        raise errors.origin_invalid(origin)


async def resolve_context(request: Request[Any, Any, Any], instance: Instance) -> ClientContext:
    """Find the calling client; see the module docstring for the order of the three ways."""
    query, headers = request.query_params, request.headers
    origin = headers.get("origin")
    _check_origin(instance, origin)
    authorization = headers.get("authorization")
    native = query.get("_is_native", "").lower() in ("1", "true")
    cookie = request.cookies.get(CLIENT_COOKIE)
    dev_token = None if instance.config.production else query.get("__clerk_db_jwt") or query.get("__dev_session")
    if native or (authorization is not None and not origin and not cookie and not dev_token):
        if authorization is None:
            raise errors.request_header_missing("Authorization")
        if origin:
            raise errors.origin_authorization_conflict()
        token = authorization.removeprefix("Bearer").strip() or None
        client = await _client_for(instance, token)
        return ClientContext(
            instance=instance,
            request=request,
            mode="native",
            client=client,
            token=token if client else None,
            dev_browser_hash=None,
        )
    if dev_token:
        dev_hash = hash_token(dev_token)
        known, client_id = await instance.store.get_dev_browser(dev_hash)
        if not known:
            raise errors.dev_browser_unauthenticated()
        client = await instance.store.get_client(client_id) if client_id else None
        return ClientContext(
            instance=instance, request=request, mode="dev_browser", client=client, token=None, dev_browser_hash=dev_hash
        )
    client = await _client_for(instance, cookie)
    return ClientContext(
        instance=instance, request=request, mode="cookie", client=client, token=cookie, dev_browser_hash=None
    )


async def _client_for(instance: Instance, token: str | None) -> ClientRecord | None:
    if not token or len(token) > 512:
        return None
    return await instance.store.get_client_by_token_hash(hash_token(token))
