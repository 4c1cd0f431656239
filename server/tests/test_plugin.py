"""The plugin inside a host Litestar app: routes under a prefix, the host's handlers kept, the store injectable."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.exceptions.base_exceptions import LitestarDeprecationWarning
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.tokens import verify_jwt
from totpkit_server.plugin import TOTPKitPlugin
from totpkit_server.storage.base import Store

BASE_URL = "http://testserver.local"
PASSWORD = "correct horse battery staple"


@get("/hello", sync_to_thread=False)
def hello() -> dict[str, str]:
    return {"hello": "world"}


@get("/schema-version")
async def schema_version(totpkit_store: NamedDependency[Store]) -> dict[str, int]:
    return {"version": await totpkit_store.schema_version()}


@get("/lookup/{email:str}")
async def lookup(email: FromPath[str], totpkit_store: NamedDependency[Store]) -> dict[str, Any]:
    user = await totpkit_store.get_user_by_email(email)
    return {"id": user.id if user else None}


def host_not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    return Response({"host": "not found"}, status_code=404)


def host_app(config: TOTPKitConfig, *, with_handler: bool = True) -> Litestar:
    return Litestar(
        route_handlers=[hello, schema_version, lookup],
        exception_handlers={NotFoundException: host_not_found} if with_handler else {},
        plugins=[TOTPKitPlugin(config)],
    )


class TestMountedUnderPrefix:
    async def test_host_and_plugin_routes(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Host routes and /auth/v1/* both work; /v1/* outside the prefix is not served."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(host_app(config), base_url=BASE_URL) as http:
            assert (await http.get("/hello")).json() == {"hello": "world"}
            environment = await http.get("/auth/v1/environment")
            assert environment.status_code == 200, environment.text
            assert environment.json()["display_config"]["application_name"] == "totpkit test"
            assert (await http.get("/auth/.well-known/jwks.json")).status_code == 200
            assert (await http.get("/v1/environment")).status_code == 404

    async def test_host_exception_handler_is_kept(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """The host's own NotFoundException handler still answers unknown host paths."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(host_app(config), base_url=BASE_URL) as http:
            missing = await http.get("/no/such/page")
            assert missing.status_code == 404
            assert missing.json() == {"host": "not found"}

    async def test_plugin_errors_stay_in_clerk_format(
        self, make_config: Callable[..., TOTPKitConfig], clerk_error: Any
    ) -> None:
        """Errors of the plugin's own routes are Clerk errors even when the host has its own handlers."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(host_app(config), base_url=BASE_URL) as http:
            clerk_error(await http.get("/auth/v1/me"), 401, "authentication_invalid")
            clerk_error(
                await http.get(
                    "/auth/v1/client/sign_ins/sia_nope", params={"_is_native": "1"}, headers={"Authorization": ""}
                ),
                404,
                "resource_not_found",
            )

    async def test_without_host_handler_prefix_gets_clerk_404(
        self, make_config: Callable[..., TOTPKitConfig], clerk_error: Any
    ) -> None:
        """Without a host handler, unknown paths under the prefix are Clerk 404s and others are Litestar's."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(host_app(config, with_handler=False), base_url=BASE_URL) as http:
            clerk_error(await http.get("/auth/v1/nothing-here"), 404, "resource_not_found")
            outside = await http.get("/elsewhere")
            assert outside.status_code == 404
            assert "errors" not in outside.json()

    async def test_store_is_injectable(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """A host handler receives the plugin's open store as ``totpkit_store``."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(host_app(config), base_url=BASE_URL) as http:
            version = (await http.get("/schema-version")).json()["version"]
            assert version >= 1
            created = await http.post(
                "/auth/v1/users",
                json={"email_address": ["host@example.com"], "password": PASSWORD},
                headers={"Authorization": f"Bearer {config.secret_key}"},
            )
            assert created.status_code == 200, created.text
            found = (await http.get("/lookup/HOST@example.com")).json()
            assert found == {"id": created.json()["id"]}

    async def test_custom_store_dependency_key(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """store_dependency_key renames the injected store."""

        @get("/custom")
        async def custom(auth_db: NamedDependency[Store]) -> dict[str, int]:
            return {"version": await auth_db.schema_version()}

        config = make_config(store_dependency_key="auth_db")
        app = Litestar(route_handlers=[custom], plugins=[TOTPKitPlugin(config)])
        async with AsyncTestClient(app, base_url=BASE_URL) as http:
            response = await http.get("/custom")
            assert response.status_code == 200, response.text
            assert response.json()["version"] >= 1

    async def test_full_flow_and_issuer_under_prefix(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Sign-in works under the prefix and session tokens name the prefixed URL as issuer."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(host_app(config), base_url=BASE_URL) as http:
            await http.post(
                "/auth/v1/users",
                json={"email_address": ["flow@example.com"], "password": PASSWORD},
                headers={"Authorization": f"Bearer {config.secret_key}"},
            )
            signed = await http.post(
                "/auth/v1/client/sign_ins",
                params={"_is_native": "1"},
                data={"identifier": "flow@example.com", "password": PASSWORD},
                headers={"Authorization": ""},
            )
            assert signed.status_code == 200, signed.text
            session_id = signed.json()["response"]["created_session_id"]
            token = await http.post(
                f"/auth/v1/client/sessions/{session_id}/tokens",
                params={"_is_native": "1"},
                headers={"Authorization": signed.headers["authorization"]},
            )
            jwks = (await http.get("/auth/.well-known/jwks.json")).json()

        def number(text: str) -> int:
            return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

        keys = {k["kid"]: rsa.RSAPublicNumbers(number(k["e"]), number(k["n"])).public_key() for k in jwks["keys"]}
        claims = verify_jwt(token.json()["jwt"], keys, now=config.clock(), issuer=f"{BASE_URL}/auth")
        assert claims["sid"] == session_id

    async def test_explicit_issuer_url(self, make_config: Callable[..., TOTPKitConfig], kit: Any) -> None:
        """issuer_url, when set, is the iss claim."""
        config = make_config(issuer_url="https://auth.example.com", data_dir=kit.config.data_dir / "other")
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
            await http.post(
                "/v1/users",
                json={"email_address": ["iss@example.com"], "password": PASSWORD},
                headers={"Authorization": f"Bearer {config.secret_key}"},
            )
            signed = await http.post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                data={"identifier": "iss@example.com", "password": PASSWORD},
                headers={"Authorization": ""},
            )
            jwt = signed.json()["client"]["sessions"][0]["last_active_token"]["jwt"]
            jwks_keys = await kit.public_keys()
            assert verify_jwt(jwt, jwks_keys, now=config.clock(), issuer="https://auth.example.com")


class TestCreateApp:
    def test_create_app_uses_the_plugin(self, config: TOTPKitConfig) -> None:
        """create_app(config) is a Litestar app carrying a TOTPKitPlugin with that config."""
        app = create_app(config)
        assert isinstance(app, Litestar)
        plugin = app.plugins.get(TOTPKitPlugin)
        assert plugin.config is config

    async def test_create_app_serves_the_api(self, client: Any) -> None:
        """The standalone app serves the Frontend API at the root."""
        response = await client.get("/v1/environment")
        assert response.status_code == 200, response.text

    async def test_no_deprecated_litestar_api(self, config: TOTPKitConfig) -> None:
        """Building and serving the app emits no LitestarDeprecationWarning (they become errors in Litestar 3)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            app = create_app(config)
            async with AsyncTestClient(app, base_url=BASE_URL) as http:
                await http.get("/v1/environment")
                await http.get("/v1/client/sign_ins/sia_x", params={"_is_native": "1"}, headers={"Authorization": ""})
        deprecations = [str(w.message)[:160] for w in caught if issubclass(w.category, LitestarDeprecationWarning)]
        assert deprecations == []
