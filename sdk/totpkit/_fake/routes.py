"""The fake's route table on a ``respx`` router, and the dispatch that turns handlers into answers.

Routes are named (``fake.router["totp_verify"]``). Browsers' ``POST ?_method=PUT|PATCH|DELETE``
reaches the route of the overridden method; every path also matches with a trailing slash, like
the server's router. The last route, ``not_found``, answers what no route took: 405 for a method
the path does not have (``OPTIONS`` gets its ``Allow`` list, or a CORS preflight answer), 404 for an
unknown path. State-changing requests from a refused browser origin answer 400 ``origin_invalid``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import respx
from respx.patterns import M, Pattern

from . import handlers_bapi as bapi
from . import handlers_bapi_mfa as bapi_mfa
from . import handlers_client as client
from . import handlers_me as me
from . import handlers_me_sessions as me_sessions
from . import handlers_session_verify as session_verify
from . import handlers_sign_in as sign_in
from .context import Call, error_response, identify, json_response, origin_refusal, preflight_response
from .errors import ClerkAPIException, method_not_allowed, resource_not_found
from .state import FakeState

__all__ = ("ROUTE_NAMES", "add_routes")

Handler = Callable[..., object]
_SID, _SIA = r"(?P<session_id>[^/]+)", r"(?P<sign_in_id>[^/]+)"
_UID = r"(?P<user_id>[^/]+)"

# (name, kind, methods, path regex, handler). ``kind``: ``plain`` (no client), ``fapi`` (the caller's
# client is identified and its token handed back) or ``bapi`` (secret key, no CORS on success).
_ROUTES: tuple[tuple[str, str, tuple[str, ...], str, Handler], ...] = (
    ("environment", "plain", ("GET", "PATCH", "POST"), "/v1/environment", client.environment),
    ("dev_browser", "plain", ("POST",), "/v1/dev_browser", client.dev_browser_create),
    ("client_delete", "fapi", ("DELETE", "_DELETE"), "/v1/client", client.client_delete),
    ("client_create", "fapi", ("PUT", "POST"), "/v1/client", client.client_create),
    ("client_get", "fapi", ("GET",), "/v1/client", client.client_get),
    ("sign_in_create", "fapi", ("POST",), "/v1/client/sign_ins", sign_in.sign_in_create),
    ("sign_in_get", "fapi", ("GET",), f"/v1/client/sign_ins/{_SIA}", sign_in.sign_in_get),
    (
        "sign_in_attempt_first_factor",
        "fapi",
        ("POST",),
        f"/v1/client/sign_ins/{_SIA}/attempt_first_factor",
        sign_in.attempt_first_factor,
    ),
    (
        "sign_in_attempt_second_factor",
        "fapi",
        ("POST",),
        f"/v1/client/sign_ins/{_SIA}/attempt_second_factor",
        sign_in.attempt_second_factor,
    ),
    ("sessions_delete", "fapi", ("DELETE", "POST"), "/v1/client/sessions", client.sessions_delete),
    ("session_get", "fapi", ("GET",), f"/v1/client/sessions/{_SID}", client.session_get),
    ("session_touch", "fapi", ("POST",), f"/v1/client/sessions/{_SID}/touch", client.session_touch),
    ("session_tokens", "fapi", ("POST",), f"/v1/client/sessions/{_SID}/tokens(?:/[^/]+)?", client.session_tokens),
    ("session_end", "fapi", ("POST",), f"/v1/client/sessions/{_SID}/end", client.session_end),
    ("session_remove", "fapi", ("POST",), f"/v1/client/sessions/{_SID}/remove", client.session_remove),
    ("session_verify", "fapi", ("POST",), f"/v1/client/sessions/{_SID}/verify", session_verify.verify_start),
    (
        "session_verify_attempt_first_factor",
        "fapi",
        ("POST",),
        f"/v1/client/sessions/{_SID}/verify/attempt_first_factor",
        session_verify.verify_attempt_first_factor,
    ),
    (
        "session_verify_attempt_second_factor",
        "fapi",
        ("POST",),
        f"/v1/client/sessions/{_SID}/verify/attempt_second_factor",
        session_verify.verify_attempt_second_factor,
    ),
    ("me", "fapi", ("GET",), "/v1/me", me.me),
    ("totp_delete", "fapi", ("DELETE", "_DELETE"), "/v1/me/totp", me.totp_delete),
    ("totp_create", "fapi", ("POST",), "/v1/me/totp", me.totp_create),
    ("totp_verify", "fapi", ("POST",), "/v1/me/totp/attempt_verification", me.totp_verify),
    ("backup_codes_create", "fapi", ("POST",), "/v1/me/backup_codes", me.backup_codes_create),
    ("me_sessions_active", "fapi", ("GET",), "/v1/me/sessions/active", me_sessions.sessions_active),
    ("me_sessions", "fapi", ("GET",), "/v1/me/sessions", me_sessions.sessions_list),
    ("me_session_revoke", "fapi", ("POST",), f"/v1/me/sessions/{_SID}/revoke", me_sessions.session_revoke),
    ("jwks", "plain", ("GET",), "/.well-known/jwks.json", client.jwks),
    ("bapi_user_create", "bapi", ("POST",), "/v1/users", bapi.user_create),
    ("bapi_user_get", "bapi", ("GET",), f"/v1/users/{_UID}", bapi.user_get),
    ("bapi_user_update", "bapi", ("PATCH",), f"/v1/users/{_UID}", bapi.user_update),
    ("bapi_user_verify_totp", "bapi", ("POST",), f"/v1/users/{_UID}/verify_totp", bapi_mfa.user_verify_totp),
    ("bapi_user_totp_delete", "bapi", ("DELETE",), f"/v1/users/{_UID}/totp", bapi_mfa.user_totp_delete),
    (
        "bapi_user_backup_codes_delete",
        "bapi",
        ("DELETE",),
        f"/v1/users/{_UID}/backup_code",
        bapi_mfa.user_backup_codes_delete,
    ),
    ("bapi_user_mfa_delete", "bapi", ("DELETE",), f"/v1/users/{_UID}/mfa", bapi_mfa.user_mfa_delete),
    ("bapi_user_lock", "bapi", ("POST",), f"/v1/users/{_UID}/lock", bapi_mfa.user_lock),
    ("bapi_user_unlock", "bapi", ("POST",), f"/v1/users/{_UID}/unlock", bapi_mfa.user_unlock),
)

ROUTE_NAMES = tuple(dict.fromkeys(name for name, *_ in _ROUTES))
"""The named routes, besides the catch-all ``not_found``."""


def _methods_pattern(methods: tuple[str, ...]) -> Pattern:
    """``_DELETE`` stands for ``POST ?_method=DELETE`` (how browsers send DELETE)."""
    patterns = [
        M(method="POST") & M(params__contains={"_method": m[1:]}) if m.startswith("_") else M(method=m) for m in methods
    ]
    combined = patterns[0]
    for pattern in patterns[1:]:
        combined = combined | pattern
    return combined


def _path_regex(path: str) -> str:
    return f"^{path}/?$"


def add_routes(router: respx.MockRouter, state: FakeState) -> None:
    """Register every named route, then the catch-all ``not_found``."""
    for name, kind, methods, path, handler in _ROUTES:
        pattern = _methods_pattern(methods) & M(path__regex=_path_regex(path))
        router.route(pattern, name=name).mock(side_effect=_side_effect(state, kind, handler))
    router.route(name="not_found").mock(side_effect=_not_found(state))


def _side_effect(state: FakeState, kind: str, handler: Handler) -> Callable[..., httpx.Response]:
    def side_effect(request: httpx.Request, **groups: str) -> httpx.Response:
        refused = origin_refusal(state, request)
        if refused is not None:
            return refused
        try:
            call = identify(state, request) if kind == "fapi" else Call(state, request, mode=kind)
            return json_response(call, handler(call, **groups), cors=kind != "bapi")
        except ClerkAPIException as error:
            return error_response(state, request, error)

    return side_effect


_REGISTERED: dict[re.Pattern[str], set[str]] = {}
for _name, _kind, _methods, _path, _handler in _ROUTES:
    _REGISTERED.setdefault(re.compile(_path_regex(_path)), set()).update(m for m in _methods if m[0] != "_")


def _not_found(state: FakeState) -> Callable[[httpx.Request], httpx.Response]:
    prefix = urlsplit(state.base_url).path.rstrip("/")

    def side_effect(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        relative = path[len(prefix) :] if path.startswith(prefix) else None
        methods = next((m for regex, m in _REGISTERED.items() if relative and regex.fullmatch(relative)), None)
        if methods is not None and request.method == "OPTIONS":
            answer = origin_refusal(state, request) or preflight_response(request)
            if answer is not None:
                return answer
            primary = "GET" if "GET" in methods else "POST"
            return httpx.Response(204, headers={"allow": ", ".join(sorted({primary, "OPTIONS"}))})
        error = resource_not_found() if methods is None else method_not_allowed(request.method)
        response = error_response(state, request, error)
        if request.method == "HEAD":
            headers = {k: v for k, v in response.headers.items() if k != "content-length"}
            return httpx.Response(response.status_code, headers=headers)
        return response

    return side_effect
