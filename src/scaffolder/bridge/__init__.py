"""The HTTP bridge: Backstage's scaffolder REST API over the scaffolder's runner.

:class:`Bridge` builds the parts of a server from app-config and :func:`create_app` wraps them
in a FastAPI application; ``scaffold serve`` runs that application with uvicorn.
"""

from scaffolder.bridge.app import API_PREFIX, create_app
from scaffolder.bridge.core import Bridge

__all__ = ["API_PREFIX", "Bridge", "create_app"]
