"""The parts of one bridge process, built from app-config, and the route dependencies on them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from scaffolder.bridge.auth import Authenticator, check_auth_setup
from scaffolder.bridge.catalog import TemplateCatalog
from scaffolder.bridge.events import EventHub
from scaffolder.bridge.settings import BridgeSettings, load_settings
from scaffolder.bridge.store import TaskStore
from scaffolder.bridge.worker import ActiveSecrets, WorkerPool
from scaffolder.context import Runtime
from scaffolder.registry import default_registry
from scaffolder.runner import Runner

logger = logging.getLogger("scaffolder.bridge")


@dataclass
class Bridge:
    """Settings, task store, template catalog, workers and event hub of one server."""

    settings: BridgeSettings
    store: TaskStore
    catalog: TemplateCatalog
    runner: Runner
    hub: EventHub
    pool: WorkerPool
    secrets: ActiveSecrets
    auth: Authenticator
    long_poll_seconds: float = 30.0
    actions_body: bytes = field(default=b"[]", repr=False)

    @classmethod
    def build(
        cls,
        config: dict[str, Any],
        *,
        host: str = "127.0.0.1",
        insecure_no_auth: bool = False,
        base_dir: Path | None = None,
    ) -> Bridge:
        """Check the settings, open and migrate the store, and load the templates.

        Raises :class:`~scaffolder.errors.ConfigError` for anything that stops the bridge from
        serving safely; nothing is started yet (see :meth:`start`).
        """
        settings = load_settings(config, base_dir=base_dir)
        check_auth_setup(settings.tokens, insecure=insecure_no_auth, host=host)
        settings.working_directory.mkdir(parents=True, exist_ok=True)

        store = TaskStore(settings.task_store_url)
        version = store.migrate()
        logger.info("task store ready at schema version %d", version)
        catalog = TemplateCatalog.load(settings.templates,
                                       clone_dir=settings.working_directory / "templates")
        secrets = ActiveSecrets()
        runtime = Runtime(config=dict(config), redactor=secrets,
                          trust_templates=settings.trust_templates)
        runner = Runner(default_registry(), runtime)
        hub = EventHub()
        pool = WorkerPool(
            store=store, hub=hub, catalog=catalog, runner=runner, secrets=secrets,
            working_directory=settings.working_directory, count=settings.workers,
            heartbeat_seconds=settings.heartbeat_seconds,
        )
        actions = [manifest.to_backstage() for manifest in runner.registry.all()]
        return cls(
            settings=settings, store=store, catalog=catalog, runner=runner, hub=hub, pool=pool,
            secrets=secrets,
            auth=Authenticator(settings.tokens, insecure=insecure_no_auth),
            actions_body=json.dumps(actions, separators=(",", ":")).encode(),
        )

    def start(self) -> None:
        """Recover interrupted tasks and start the workers."""
        recovered = self.pool.recover(all_processing=self.store.is_sqlite)
        if recovered:
            logger.info("recovered %d interrupted task(s)", recovered)
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()
        self.runner.runtime.close()
        self.store.close()


async def get_bridge(request: Request) -> Bridge:
    """FastAPI dependency: the bridge of the application (async, so no thread is involved)."""
    bridge: Bridge = request.app.state.bridge
    return bridge


async def principal_of(request: Request) -> str:
    """FastAPI dependency: authenticate the request and return its principal."""
    bridge: Bridge = request.app.state.bridge
    return await bridge.auth(request)
