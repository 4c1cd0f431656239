"""What the document says about each route handler the plugin registers, keyed ``<module>.<function>``.

Paths and methods are not written here: the document takes them from the handlers themselves
(:mod:`.document`), so they cannot drift. This table holds what the handlers cannot say about
themselves, because they read their bodies and write their answers by hand: the body fields, the
200 answer, and the 4xx statuses the route's own logic produces. The statuses implied by how a route
is reached are added by the document: client identification (400, 401), the Backend API key (401),
reading a body (408, 413, 415, 422), the ``_method`` override (405), ``/v1/me`` (401) and the rate limit
(429; routes that create clients or hash passwords list it themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .components import DEV_BROWSER, OPENAPI_OBJECT, ref, wrapped
from .fields import (
    BACKUP_CODE_LIST,
    CODE,
    EMAIL_LIST,
    EMPTY,
    FIRST_FACTOR_STRATEGY,
    IDENTIFIER,
    LEVEL,
    NAME,
    NEW_PASSWORD,
    PASSWORD,
    REQUIRED_PASSWORD,
    SECOND_FACTOR_STRATEGY,
    SIGN_IN_STRATEGY,
    TOTP_SECRET,
    Body,
    Field,
)

__all__ = ("OPERATIONS", "Access", "OperationDoc")

Access = Literal["public", "client", "me", "secret_key"]
"""How a route is reached: anyone; as a FAPI client (maybe none yet); as a signed-in user; with the secret key."""


@dataclass(frozen=True)
class OperationDoc:
    """The documentation of one route handler.

    Attributes:
        summary: one line for the operation list.
        tag: the group it is listed under.
        ok: the JSON Schema of the 200 answer.
        access: how it is reached (adds the statuses and parameters that implies).
        errors: 4xx statuses of the route's own logic.
        body: the request-body fields, when the route reads a body.
        method_override: the values ``?_method=`` may take (browsers' POST standing for another method).
        override_required: a plain POST is 405: only ``?_method=`` requests are served.
    """

    summary: str
    tag: str
    ok: dict[str, Any]
    access: Access = "client"
    errors: tuple[int, ...] = ()
    body: Body | None = None
    method_override: tuple[str, ...] = ()
    override_required: bool = False


_SIGN_IN_BODY = Body(
    {
        "identifier": Field(IDENTIFIER, required=True),
        "password": Field(PASSWORD),
        "strategy": Field(SIGN_IN_STRATEGY),
    },
    "Without ``password`` the sign-in waits for its first factor.",
)
_FIRST_FACTOR_BODY = Body(
    {"strategy": Field(FIRST_FACTOR_STRATEGY, required=True), "password": Field(REQUIRED_PASSWORD, required=True)}
)
_SECOND_FACTOR_BODY = Body(
    {"strategy": Field(SECOND_FACTOR_STRATEGY, required=True), "code": Field(CODE, required=True)}
)
_CODE_BODY = Body({"code": Field(CODE, required=True)})
_CREATE_USER_BODY = Body(
    {
        "email_address": Field(EMAIL_LIST, required=True),
        "password": Field(NEW_PASSWORD),
        "first_name": Field(NAME),
        "last_name": Field(NAME),
        "totp_secret": Field(TOTP_SECRET),
        "backup_codes": Field(BACKUP_CODE_LIST),
    }
)

_ENVIRONMENT = "Environment"
_CLIENT = "Client"
_SESSIONS = "Sessions"
_SIGN_IN = "Sign in"
_ME = "Me: TOTP and backup codes"
_ME_SESSIONS = "Me: sessions"
_BAPI = "Backend API: users"
_META = "Meta"
_HEALTHY = {
    "type": "object",
    "properties": {"status": {"const": "ok"}},
    "required": ["status"],
    "additionalProperties": False,
}
_READY = {
    "type": "object",
    "properties": {"status": {"const": "ready"}, "schema_version": {"type": "integer", "minimum": 1}},
    "required": ["status", "schema_version"],
    "additionalProperties": False,
}

_SESSION = wrapped("Session")
_VERIFICATION = wrapped("SessionVerification")
_TOKEN = ref("Token")
_CLIENT_OR_NULL = wrapped("Client", nullable=True)

OPERATIONS: dict[str, OperationDoc] = {
    # --- environment, dev browser, JWKS: unwrapped, no client -----------------------------------
    "environment.get_environment": OperationDoc(
        "The instance configuration", _ENVIRONMENT, ref("Environment"), "public"
    ),
    "environment.patch_environment": OperationDoc(
        "Touch the environment (answers like GET)", _ENVIRONMENT, ref("Environment"), "public", errors=(400,)
    ),
    "environment.post_environment": OperationDoc(
        "PATCH the environment from a browser",
        _ENVIRONMENT,
        ref("Environment"),
        "public",
        errors=(400,),
        method_override=("PATCH",),
        override_required=True,
    ),
    "environment.create_dev_browser": OperationDoc(
        "A new dev-browser token (development only)", _ENVIRONMENT, ref(DEV_BROWSER), "public", errors=(400, 429)
    ),
    "environment.get_jwks": OperationDoc("The session-token verification keys", _ENVIRONMENT, ref("JWKS"), "public"),
    # --- the client -----------------------------------------------------------------------------
    "client.get_client": OperationDoc("The caller's client (null on a fresh device)", _CLIENT, _CLIENT_OR_NULL),
    "client.put_client": OperationDoc(
        "Create a client (an existing one is kept)", _CLIENT, _CLIENT_OR_NULL, errors=(429,)
    ),
    "client.delete_client": OperationDoc("Sign out of every session", _CLIENT, _CLIENT_OR_NULL),
    "client.post_client": OperationDoc(
        "Create a client, or sign out with ?_method=DELETE",
        _CLIENT,
        _CLIENT_OR_NULL,
        errors=(429,),
        method_override=("POST", "PUT", "DELETE"),
    ),
    # --- sessions -------------------------------------------------------------------------------
    "client.delete_sessions": OperationDoc("Sign out of every session, keep the client", _SESSIONS, _CLIENT_OR_NULL),
    "client.post_sessions": OperationDoc(
        "Sign out of every session from a browser",
        _SESSIONS,
        _CLIENT_OR_NULL,
        method_override=("DELETE",),
        override_required=True,
    ),
    "client.get_session": OperationDoc("One of the client's sessions", _SESSIONS, _SESSION, errors=(404,)),
    "client.touch_session": OperationDoc(
        "Make a session the active one", _SESSIONS, _SESSION, errors=(401, 404), body=EMPTY
    ),
    "client.end_session": OperationDoc("Sign one session out (ended)", _SESSIONS, _SESSION, errors=(404,), body=EMPTY),
    "client.remove_session": OperationDoc(
        "Remove one session (removed)", _SESSIONS, _SESSION, errors=(404,), body=EMPTY
    ),
    "client.create_session_token": OperationDoc(
        "A fresh session JWT", _SESSIONS, _TOKEN, errors=(401, 404), body=EMPTY
    ),
    "client.create_template_token": OperationDoc(
        "A session JWT (the template name is ignored)", _SESSIONS, _TOKEN, errors=(401, 404), body=EMPTY
    ),
    # --- session reverification (step-up) -------------------------------------------------------
    "session_verify.start_verification": OperationDoc(
        "Start a reverification of the session at a level",
        _SESSIONS,
        _VERIFICATION,
        errors=(400, 401, 404),
        body=Body({"level": Field(LEVEL, required=True)}),
    ),
    "session_verify.attempt_first_factor": OperationDoc(
        "Reverify with the password", _SESSIONS, _VERIFICATION, errors=(400, 401, 404), body=_FIRST_FACTOR_BODY
    ),
    "session_verify.attempt_second_factor": OperationDoc(
        "Reverify with a TOTP or backup code",
        _SESSIONS,
        _VERIFICATION,
        errors=(400, 401, 403, 404),
        body=_SECOND_FACTOR_BODY,
    ),
    # --- sign-in --------------------------------------------------------------------------------
    "sign_ins.create_sign_in": OperationDoc(
        "Start a sign-in (password first factor)", _SIGN_IN, wrapped("SignIn"), errors=(403,), body=_SIGN_IN_BODY
    ),
    "sign_ins.get_sign_in": OperationDoc("The client's sign-in", _SIGN_IN, wrapped("SignIn"), errors=(404,)),
    "sign_ins.attempt_first_factor": OperationDoc(
        "Attempt the password", _SIGN_IN, wrapped("SignIn"), errors=(400, 403, 404), body=_FIRST_FACTOR_BODY
    ),
    "sign_ins.attempt_second_factor": OperationDoc(
        "Attempt a TOTP or backup code", _SIGN_IN, wrapped("SignIn"), errors=(400, 403, 404), body=_SECOND_FACTOR_BODY
    ),
    # --- the signed-in user ---------------------------------------------------------------------
    "me.get_me": OperationDoc("The signed-in user", _ME, wrapped("User"), "me"),
    "me.create_totp": OperationDoc(
        "Start TOTP enrolment (secret shown once), or disable TOTP with ?_method=DELETE",
        _ME,
        {"anyOf": [wrapped("TOTP"), wrapped("DeletedObject")]},
        "me",
        errors=(400, 403, 404),
        body=EMPTY,
        method_override=("POST", "DELETE"),
    ),
    "me.delete_totp": OperationDoc("Disable TOTP", _ME, wrapped("DeletedObject"), "me", errors=(403, 404)),
    "me.verify_totp": OperationDoc(
        "Finish enrolment with a code", _ME, wrapped("TOTP"), "me", errors=(400, 403, 404), body=_CODE_BODY
    ),
    "me.create_backup_codes": OperationDoc(
        "Replace the backup codes", _ME, wrapped("BackupCodes"), "me", errors=(400, 403), body=EMPTY
    ),
    # --- the signed-in user's sessions on every device ------------------------------------------
    "me_sessions.list_active_sessions": OperationDoc(
        "The user's live sessions on every device (Active devices)",
        _ME_SESSIONS,
        {"type": "array", "items": ref("ActiveSession")},
        "me",
    ),
    "me_sessions.list_sessions": OperationDoc(
        "Every session of the user, any status", _ME_SESSIONS, {"type": "array", "items": ref("Session")}, "me"
    ),
    "me_sessions.revoke_session": OperationDoc(
        "Revoke one of the user's sessions on any device",
        _ME_SESSIONS,
        _SESSION,
        "me",
        errors=(403, 404),
        body=EMPTY,
    ),
    # --- Backend API ----------------------------------------------------------------------------
    "users.create_user": OperationDoc(
        "Create a user, optionally importing TOTP and backup codes",
        _BAPI,
        ref("User"),
        "secret_key",
        errors=(429,),
        body=_CREATE_USER_BODY,
    ),
    "users.get_user": OperationDoc("A user", _BAPI, ref("User"), "secret_key", errors=(404,)),
    "users.update_user": OperationDoc(
        "Change names, import a TOTP secret and backup codes (other fields: 422)",
        _BAPI,
        ref("User"),
        "secret_key",
        errors=(404,),
        body=Body(
            {
                "first_name": Field(NAME),
                "last_name": Field(NAME),
                "totp_secret": Field(TOTP_SECRET),
                "backup_codes": Field(BACKUP_CODE_LIST),
            },
            closed=True,
        ),
    ),
    "users.lock_user": OperationDoc(
        "Lock a user for the lockout duration", _BAPI, ref("User"), "secret_key", errors=(404,)
    ),
    "users.unlock_user": OperationDoc("Lift a lock or lockout", _BAPI, ref("User"), "secret_key", errors=(404,)),
    "mfa.verify_user_totp": OperationDoc(
        "Check a user's TOTP or backup code (a backup code is consumed)",
        _BAPI,
        ref("TOTPVerification"),
        "secret_key",
        errors=(400, 403, 404),
        body=_CODE_BODY,
    ),
    "mfa.delete_user_totp": OperationDoc(
        "Remove a user's TOTP", _BAPI, ref("UserIdResponse"), "secret_key", errors=(404,)
    ),
    "mfa.delete_user_backup_codes": OperationDoc(
        "Remove a user's backup codes", _BAPI, ref("UserIdResponse"), "secret_key", errors=(404,)
    ),
    "mfa.disable_user_mfa": OperationDoc(
        "Remove every MFA method of a user", _BAPI, ref("UserIdResponse"), "secret_key", errors=(404,)
    ),
    # --- this document --------------------------------------------------------------------------
    "openapi.get_openapi_document": OperationDoc("This OpenAPI document", _META, ref(OPENAPI_OBJECT), "public"),
    # --- health probes (no rate limit, no audit event) -------------------------------------------
    "health.healthz": OperationDoc("Liveness: the process serves requests", _META, _HEALTHY, "public"),
    "health.readyz": OperationDoc(
        "Readiness: the database answers and its migrations are current", _META, _READY, "public", errors=(503,)
    ),
}
