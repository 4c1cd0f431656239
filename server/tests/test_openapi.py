"""The app's own OpenAPI document: it lists exactly the routes the plugin registers, and tells the truth.

Coverage is checked against Litestar's route table (not against the table the document is built
from); truth is checked by validating real answers of a whole enrolment and sign-in flow, errors
included, against the documented status codes and schemas. ``nox -s fuzz`` goes further with
schemathesis; these run with the ordinary tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.testing import AsyncTestClient
from openapi_schema_validator import OAS31Validator

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.bapi import BAPI_HANDLERS
from totpkit_server.fapi import FAPI_HANDLERS
from totpkit_server.http.health import HEALTH_HANDLERS
from totpkit_server.openapi import OPERATIONS, operation_key
from totpkit_server.plugin import TOTPKitPlugin

BASE_URL = "http://testserver.local"
_LITESTAR_PARAMETER = re.compile(r"\{(\w+):\w+\}")


def registered_operations(app: Litestar, prefix: str) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every route Litestar serves under ``prefix``, minus its automatic OPTIONS and
    the browser pages of :mod:`totpkit_server.pages` (marked with ``PAGE_OPT``)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        path = _LITESTAR_PARAMETER.sub(r"{\1}", route.path)
        if not (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
            continue
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("totpkit_page"):  # the browser pages (/docs, /examples): not API
                continue
            if isinstance(handler, HTTPRouteHandler) and handler.handler_name != "options_handler":
                found |= {(method, path) for method in handler.http_methods}
    return found


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


@get("/host/hello", sync_to_thread=False)
def host_hello() -> dict[str, str]:
    return {"hello": "world"}


class TestEveryRouteIsDocumented:
    async def test_standalone_app(self, app: Litestar, client: AsyncTestClient[Litestar]) -> None:
        """Every method and path the standalone app serves is in ``/openapi.json``, and nothing else is."""
        document = (await client.get("/openapi.json")).json()
        assert document["openapi"].startswith("3.1")
        assert documented_operations(document) == registered_operations(app, "/")

    async def test_under_a_prefix_in_a_host_app(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Mounted at ``/auth``: the document is at ``/auth/openapi.json`` with ``/auth`` paths; host
        routes are not in it, and totpkit's routes stay out of the host's own Litestar schema."""
        config = make_config(path_prefix="/auth")
        app = Litestar(
            route_handlers=[host_hello], plugins=[TOTPKitPlugin(config)], openapi_config=OpenAPIConfig("host", "1")
        )
        async with AsyncTestClient(app, base_url=BASE_URL) as http:
            document = (await http.get("/auth/openapi.json")).json()
            host_schema = (await http.get("/schema/openapi.json")).json()
        assert documented_operations(document) == registered_operations(app, "/auth")
        assert ("GET", "/auth/v1/me") in documented_operations(document)
        assert list(host_schema["paths"]) == ["/host/hello"]

    def test_every_handler_has_its_own_entry(self) -> None:
        """Each route handler has an entry in the table (handlers added without one fail here)."""
        keys = [operation_key(handler) for handler in (*FAPI_HANDLERS, *BAPI_HANDLERS, *HEALTH_HANDLERS)]
        assert len(keys) == len(set(keys)), "handler keys must be unique: the table is keyed by them"
        assert set(OPERATIONS) == {*keys, "openapi.get_openapi_document"}

    async def test_none_serves_no_document(self, make_config: Callable[..., TOTPKitConfig], clerk_error: Any) -> None:
        """``openapi_path=None``: no document route."""
        async with AsyncTestClient(create_app(make_config(openapi_path=None)), base_url=BASE_URL) as http:
            clerk_error(await http.get("/openapi.json"), 404, "resource_not_found")


class Documented:
    """Validates answers against the document: a documented status and a body matching its schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: list[tuple[str, str, int]] = []

    def check(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        """Assert that ``response`` (to ``method path``, a documented path template) is documented."""
        operation = self.document["paths"][path][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (method, path, status, response.text)
        pointer = "/".join(["#", "paths", _escape(path), method.lower(), "responses", status, "content"])
        root = {**self.document, "$ref": pointer + "/application~1json/schema"}
        OAS31Validator(root).validate(response.json())
        self.checked.append((method, path, response.status_code))
        return dict(response.json())


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


@pytest.fixture
async def documented(client: AsyncTestClient[Litestar]) -> Documented:
    return Documented((await client.get("/openapi.json")).json())


class TestDocumentTellsTheTruth:
    async def test_schemas_are_valid_json_schema(self, documented: Documented) -> None:
        """Every component and request-body schema is a valid JSON Schema (2020-12, OpenAPI 3.1's dialect)."""
        document = documented.document
        for schema in document["components"]["schemas"].values():
            OAS31Validator.check_schema(schema)
        for item in document["paths"].values():
            for operation in item.values():
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    OAS31Validator.check_schema(media["schema"])

    async def test_answers_of_a_whole_flow_match(self, kit: Any, documented: Documented) -> None:
        """Environment, JWKS, dev browser, sign-in with TOTP, enrolment, backup codes, tokens, sign-out,
        the Backend API, and errors on the way: each answer has a documented status and schema."""
        check, http = documented.check, kit.http
        check("GET", "/v1/environment", await http.get("/v1/environment"))
        check("GET", "/.well-known/jwks.json", await http.get("/.well-known/jwks.json"))
        check("POST", "/v1/dev_browser", await http.post("/v1/dev_browser"))
        fresh = kit.device()
        check("GET", "/v1/client", await fresh.get("/v1/client"))
        check("GET", "/v1/me", await fresh.get("/v1/me"))
        email, device = await kit.user_and_device()
        check("GET", "/v1/me", await device.get("/v1/me"))
        created = check("POST", "/v1/me/totp", await device.post("/v1/me/totp"))
        secret = created["response"]["secret"]
        wrong = "000000" if kit.code(secret) != "000000" else "111111"
        verify = "/v1/me/totp/attempt_verification"
        check("POST", verify, await device.post(verify, data={"code": wrong}))
        check("POST", verify, await device.post(verify, data={"code": kit.code(secret)}))
        kit.next_step()
        check("POST", "/v1/me/totp", await device.post("/v1/me/totp"))
        check("POST", "/v1/me/backup_codes", await device.post("/v1/me/backup_codes"))
        session_id = await kit.active_session_id(device)
        check("GET", "/v1/client/sessions/{session_id}", await device.get(f"/v1/client/sessions/{session_id}"))
        tokens = "/v1/client/sessions/{session_id}/tokens"
        check("POST", tokens, await device.post(tokens.format(session_id=session_id)))
        second, started = await kit.start_sign_in(email)
        sign_in_id = check("POST", "/v1/client/sign_ins", started)["response"]["id"]
        check("GET", "/v1/client/sign_ins/{sign_in_id}", await second.get(f"/v1/client/sign_ins/{sign_in_id}"))
        attempt = "/v1/client/sign_ins/{sign_in_id}/attempt_second_factor"
        check("POST", attempt, await kit.attempt_second_factor(second, sign_in_id, "sms", "1"))
        check("POST", attempt, await kit.attempt_second_factor(second, sign_in_id, "totp", kit.code(secret)))
        check("GET", "/v1/client", await second.get("/v1/client"))
        check("DELETE", "/v1/me/totp", await device.delete("/v1/me/totp"))
        check("DELETE", "/v1/client", await device.delete("/v1/client"))
        tokens = "/v1/client/sessions/{session_id}/tokens"
        check("POST", tokens, await device.post(tokens.format(session_id=session_id)))
        check("POST", "/v1/client/sign_ins", await kit.device().post("/v1/client/sign_ins", data={}))
        user = await kit.create_user()
        check("GET", "/v1/users/{user_id}", await kit.bapi_get_user(user["id"]))
        check("GET", "/v1/users/{user_id}", await kit.bapi_get_user("user_missing"))
        check("POST", "/v1/users", await kit.bapi_create_user({"email_address": ["not an email"]}))
        check("GET", "/v1/users/{user_id}", await http.get(f"/v1/users/{user['id']}"))
        statuses = {status for _, _, status in documented.checked}
        assert statuses >= {200, 400, 401, 404, 422}, statuses
