"""The browser pages beside the API: ``/examples/totp`` (development only) and the ``/docs`` viewer.

In-process checks of what the server serves; the pages themselves run in Chromium in
test_pages_browser.py.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from totpkit.qr import qr_svg
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.pages import PAGE_OPT
from totpkit_server.pages.docs import swagger_ui_dir

BASE_URL = "http://testserver.local"
STATIC_DIR = Path(__file__).resolve().parents[1] / "totpkit_server" / "pages" / "static"
URI = "otpauth://totp/totpkit%20test:jane%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=totpkit%20test"
BUNDLE = b"/* stand-in for clerk.browser.js */ window.Clerk = {};"

PRODUCTION = {"allowed_origins": ("https://app.example.com",), "issuer_url": "https://auth.example.com"}
"""What a production configuration must name besides its keys."""


@asynccontextmanager
async def served(config: TOTPKitConfig) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
        yield http


def page_config(response: httpx.Response, element_id: str) -> dict[str, Any]:
    """The JSON the server put in ``<script type="application/json" id=element_id>``."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', response.text)
    assert match, response.text
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.fixture
def clerk_js_dist(tmp_path: Path) -> Path:
    """A folder laid out like @clerk/clerk-js's dist: the bundle and a lazily loaded chunk."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "clerk.browser.js").write_bytes(BUNDLE)
    (dist / "ui-common_123.js").write_text("/* chunk */")
    return dist


class TestExamplePage:
    async def test_configures_clerk_js_for_this_server(
        self, make_config: Callable[..., TOTPKitConfig], clerk_js_dist: Path
    ) -> None:
        """The page gets a pk_live_ key of the request's host, proxyUrl = this server, and the local bundle."""
        async with served(make_config(clerk_js_dir=clerk_js_dist)) as http:
            response = await http.get("/examples/totp")
            bundle = await http.get("/examples/clerk-js/clerk.browser.js")
            chunk = await http.get("/examples/clerk-js/ui-common_123.js")
            script = await http.get("/examples/static/example_totp.js")
        config = page_config(response, "totpkit-example-config")
        assert config == {
            "publishableKey": "pk_live_" + base64.b64encode(b"testserver.local$").decode(),
            "proxyUrl": BASE_URL,
            "clerkJsUrl": "/examples/clerk-js/clerk.browser.js",
            "qrUrl": "/examples/totp/qr",
            "missingBundle": None,
        }
        assert '<script src="/examples/static/example_totp.js" defer></script>' in response.text
        assert bundle.status_code == 200
        assert bundle.content == BUNDLE  # served as it is: the unmodified bundle
        assert chunk.status_code == 200
        assert script.status_code == 200
        assert "user.createTOTP()" in script.text

    async def test_says_how_to_get_the_bundle_when_unset(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        async with served(make_config()) as http:
            config = page_config(await http.get("/examples/totp"), "totpkit-example-config")
            assert (await http.get("/examples/clerk-js/clerk.browser.js")).status_code == 404
        assert config["clerkJsUrl"] is None
        assert "no clerk_js_dir is set" in config["missingBundle"]
        assert "npm ci --prefix clerkjs" in config["missingBundle"]
        assert "--clerk-js-dir clerkjs/node_modules/@clerk/clerk-js/dist" in config["missingBundle"]

    async def test_says_which_file_is_missing(self, make_config: Callable[..., TOTPKitConfig], tmp_path: Path) -> None:
        async with served(make_config(clerk_js_dir=tmp_path / "nowhere")) as http:
            config = page_config(await http.get("/examples/totp"), "totpkit-example-config")
        assert config["clerkJsUrl"] is None
        assert f"{tmp_path / 'nowhere' / 'clerk.browser.js'} does not exist" in config["missingBundle"]

    async def test_under_a_path_prefix(self, make_config: Callable[..., TOTPKitConfig], clerk_js_dist: Path) -> None:
        async with served(make_config(path_prefix="/auth", clerk_js_dir=clerk_js_dist)) as http:
            config = page_config(await http.get("/auth/examples/totp"), "totpkit-example-config")
            assert (await http.get("/auth/examples/clerk-js/clerk.browser.js")).content == BUNDLE
            assert (await http.get("/examples/totp")).status_code == 404
        assert config["proxyUrl"] == f"{BASE_URL}/auth"
        assert config["clerkJsUrl"] == "/auth/examples/clerk-js/clerk.browser.js"
        assert config["qrUrl"] == "/auth/examples/totp/qr"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/examples/totp"),
            ("GET", "/examples/clerk-js/clerk.browser.js"),
            ("GET", "/examples/static/example_totp.js"),
            ("POST", "/examples/totp/qr"),
        ],
    )
    async def test_not_served_in_production(
        self, make_config: Callable[..., TOTPKitConfig], clerk_js_dist: Path, method: str, path: str, clerk_error: Any
    ) -> None:
        async with served(make_config(production=True, clerk_js_dir=clerk_js_dist, **PRODUCTION)) as http:
            response = await http.request(method, path, data={"uri": URI} if method == "POST" else None)
        clerk_error(response, 404, "resource_not_found")

    async def test_the_issuer_name_is_escaped(
        self, make_config: Callable[..., TOTPKitConfig], clerk_js_dist: Path
    ) -> None:
        async with served(make_config(issuer_name="<b>Acme</b> & co", clerk_js_dir=clerk_js_dist)) as http:
            response = await http.get("/examples/totp")
        assert "&lt;b&gt;Acme&lt;/b&gt; &amp; co" in response.text
        assert "<b>Acme</b>" not in response.text


class TestQRRoute:
    async def test_renders_the_uri_as_svg(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        async with served(make_config()) as http:
            response = await http.post("/examples/totp/qr", data={"uri": URI})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.headers["cache-control"] == "no-store"
        assert response.text == qr_svg(URI, scale=5, title="QR code of the otpauth URI")

    @pytest.mark.parametrize("uri", ["https://example.com", "", "otpauth://" + "a" * 2100])
    async def test_refuses_anything_but_an_otpauth_uri(
        self, make_config: Callable[..., TOTPKitConfig], uri: str
    ) -> None:
        async with served(make_config()) as http:
            response = await http.post("/examples/totp/qr", data={"uri": uri})
        assert response.status_code == 422
        assert response.text == "uri must be an otpauth:// URI"

    async def test_without_segno_names_the_extra(
        self, make_config: Callable[..., TOTPKitConfig], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in [name for name in sys.modules if name.split(".")[0] == "segno"]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "segno", None)
        async with served(make_config()) as http:
            response = await http.post("/examples/totp/qr", data={"uri": URI})
        assert response.status_code == 501
        assert "pip install 'totpkit[qr]'" in response.text


class TestDocsPage:
    async def test_serves_swagger_ui_from_this_server(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        async with served(make_config()) as http:
            response = await http.get("/docs")
            bundle = await http.get("/docs/assets/swagger-ui-bundle.js")
            css = await http.get("/docs/assets/swagger-ui.css")
            starter = await http.get("/docs/static/docs.js")
        assert page_config(response, "totpkit-docs-config") == {"openapiUrl": "/openapi.json", "assets": "/docs/assets"}
        assert bundle.status_code == 200
        assert "SwaggerUIBundle" in bundle.text
        assert css.status_code == 200
        assert starter.status_code == 200
        assert "validatorUrl: null" in starter.text  # Swagger UI would otherwise call an online validator

    async def test_served_in_production_and_under_a_prefix(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        async with served(make_config(production=True, path_prefix="/auth", **PRODUCTION)) as http:
            config = page_config(await http.get("/auth/docs"), "totpkit-docs-config")
            assert (await http.get("/auth/docs/assets/swagger-ui-bundle.js")).status_code == 200
        assert config == {"openapiUrl": "/auth/openapi.json", "assets": "/auth/docs/assets"}

    @pytest.mark.parametrize("overrides", [{"docs_path": None}, {"openapi_path": None}])
    async def test_none_serves_no_page(
        self, make_config: Callable[..., TOTPKitConfig], overrides: dict[str, Any], clerk_error: Any
    ) -> None:
        async with served(make_config(**overrides)) as http:
            clerk_error(await http.get("/docs"), 404, "resource_not_found")

    async def test_without_the_extra_says_how_to_install_it(
        self, make_config: Callable[..., TOTPKitConfig], monkeypatch: pytest.MonkeyPatch, clerk_error: Any
    ) -> None:
        monkeypatch.setitem(sys.modules, "swagger_ui", None)
        assert swagger_ui_dir() is None
        async with served(make_config()) as http:
            config = page_config(await http.get("/docs"), "totpkit-docs-config")
            starter = await http.get("/docs/static/docs.js")
            clerk_error(await http.get("/docs/assets/swagger-ui-bundle.js"), 404, "resource_not_found")
        assert config["assets"] is None
        assert "pip install 'totpkit[docs]'" in starter.text


def test_page_scripts_name_no_other_host() -> None:
    """The pages' own files load nothing from elsewhere (no CDN): no absolute URL in them."""
    for path in [*STATIC_DIR.iterdir(), *(STATIC_DIR.parent / "templates").iterdir()]:
        assert not re.search(r"https?://|//cdn|unpkg|jsdelivr", path.read_text("utf-8")), path


def test_pages_are_marked_as_pages(make_config: Callable[..., TOTPKitConfig], clerk_js_dist: Path) -> None:
    """Every page route carries PAGE_OPT (the OpenAPI test leaves them out by it), and no API route does."""
    app = create_app(make_config(clerk_js_dir=clerk_js_dist))
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.handler_name == "options_handler":  # Litestar's automatic OPTIONS
                continue
            is_page = route.path.startswith(("/examples", "/docs"))
            assert bool(handler.opt.get("totpkit_page")) is is_page, route.path
    assert PAGE_OPT == {"totpkit_page": True}
