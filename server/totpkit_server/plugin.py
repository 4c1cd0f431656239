"""``TOTPKitPlugin``: mounts totpkit's Frontend and Backend API in a Litestar app.

``on_app_init`` only registers things: one router under ``config.path_prefix`` (with the request
tracing and browser-origin middleware and, unless ``config.openapi_path`` is ``None``, the route of
totpkit's own OpenAPI document; the router stays out of the host's Litestar schema), the dependency
providers (the store, and the request's verified session for host routes guarded by
:mod:`totpkit_server.guards`, whose refusals get their own handler), a lifespan that opens and closes
the store (and runs the expiry sweeps), the Clerk error handler (at app level only for exception types
the host app has no handler for), and a filter that stamps ``totpkit`` log records with the request's
``clerk_trace_id``.
It also registers the browser pages of :mod:`totpkit_server.pages` (the development example
``/examples/totp`` and the ``/docs`` viewer), outside that router and the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.plugins import InitPlugin

from .bapi import BAPI_HANDLERS
from .config import TOTPKitConfig
from .core.errors import ClerkAPIException
from .core.request_context import install_trace_id_filter
from .fapi import FAPI_HANDLERS
from .guards import SessionAuthError, provide_verified_session, session_auth_exception_handler
from .http.deps import INSTANCE_STATE_KEY, provide_context, provide_instance
from .http.errors import clerk_exception_handler, prefixed_exception_handler
from .http.health import HEALTH_HANDLERS
from .http.origins import OriginPolicy
from .http.tracing import RequestTracing
from .key_rotation import check_sealing_keys
from .keys import keys_file_of, load_keys
from .openapi import openapi_handler
from .pages import page_handlers
from .services import Instance
from .services.expiry import ExpirySweeper
from .storage.base import Store
from .storage.factory import create_store

__all__ = ("TOTPKitPlugin",)

logger = logging.getLogger("totpkit")


class TOTPKitPlugin(InitPlugin):
    """Clerk-compatible TOTP MFA for a Litestar app.

    Usage::

        app = Litestar(route_handlers=[...], plugins=[TOTPKitPlugin(TOTPKitConfig(path_prefix="/auth"))])
    """

    __slots__ = ("config",)

    def __init__(self, config: TOTPKitConfig | None = None) -> None:
        self.config = config or TOTPKitConfig()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        config = self.config
        app_config.route_handlers.append(self._router())
        app_config.route_handlers.extend(page_handlers(config))
        app_config.dependencies.setdefault(config.store_dependency_key, Provide(_provide_store, sync_to_thread=False))
        app_config.dependencies.setdefault(config.session_dependency_key, Provide(provide_verified_session))
        app_config.exception_handlers.setdefault(SessionAuthError, session_auth_exception_handler)
        app_config.lifespan.append(self._lifespan)
        install_trace_id_filter()
        if config.set_default_exception_handler:
            handlers = app_config.exception_handlers
            handlers.setdefault(ClerkAPIException, clerk_exception_handler)
            for exc_type in (NotFoundException, MethodNotAllowedException):
                handlers.setdefault(exc_type, prefixed_exception_handler(config.path_prefix))
        return app_config

    def _router(self) -> Router:
        return Router(
            path=self.config.path_prefix,
            route_handlers=self._route_handlers(),
            dependencies={
                "instance": Provide(provide_instance, sync_to_thread=False),
                "ctx": Provide(provide_context),
            },
            exception_handlers={Exception: clerk_exception_handler},
            middleware=[RequestTracing(self.config), OriginPolicy(self.config)],
            include_in_schema=False,
            tags=["totpkit"],
        )

    def _route_handlers(self) -> list[HTTPRouteHandler]:
        """The Frontend and Backend API handlers, ``/healthz`` and ``/readyz``, and the OpenAPI document's if
        ``openapi_path`` is set."""
        handlers: list[HTTPRouteHandler] = [*FAPI_HANDLERS, *BAPI_HANDLERS, *HEALTH_HANDLERS]
        config = self.config
        if config.openapi_path is not None:
            title = f"{config.issuer_name} (totpkit)"
            handlers.append(openapi_handler(config.openapi_path, config.path_prefix, tuple(handlers), title=title))
        return handlers

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Open the store and keys before serving, and start the expiry sweeps; stop them and close the store after.

        Start-up fails with ``KeyConfigurationError`` (naming the key ids) when the database holds
        secrets or backup-code digests under sealing keys the key ring does not have.
        """
        keys = load_keys(self.config)
        store = create_store(self.config)
        await store.open()
        try:
            await check_sealing_keys(store, keys.key_ring)
        except BaseException:
            await store.close()
            raise
        instance = Instance(self.config, store, keys, keys_file=keys_file_of(self.config))
        app.state[INSTANCE_STATE_KEY] = instance
        sweeper = ExpirySweeper(store, self.config)
        sweeper.start()
        try:
            yield
        finally:
            app.state.pop(INSTANCE_STATE_KEY, None)
            await sweeper.stop()
            instance.hashing.shutdown()
            await store.close()


def _provide_store(state: State) -> Store:
    """The open store, for host-app handlers that ask for ``config.store_dependency_key``."""
    instance = state.get(INSTANCE_STATE_KEY)
    if not isinstance(instance, Instance):
        raise RuntimeError("the totpkit plugin's lifespan has not started")
    return instance.store
