"""Bearer-token authentication: the configured tokens and the principal each one stands for."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Sequence

from fastapi import Request

from scaffolder.bridge.http import HttpError
from scaffolder.bridge.settings import TokenGrant
from scaffolder.errors import ConfigError

logger = logging.getLogger("scaffolder.bridge.auth")

INSECURE_PRINCIPAL = "user:default/guest"
LOOPBACK_NAMES = frozenset({"localhost"})


class Authenticator:
    """Maps ``Authorization: Bearer <token>`` to a principal, or raises 401.

    Every configured token is compared with :func:`hmac.compare_digest`, without stopping at
    the first match, so the time taken does not tell which token almost matched.
    """

    def __init__(self, grants: Sequence[TokenGrant], *, insecure: bool = False) -> None:
        self._grants = [(grant.token.encode(), grant.principal) for grant in grants]
        self.insecure = insecure

    def principal(self, authorization: str | None) -> str:
        if self.insecure:
            return INSECURE_PRINCIPAL
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "AuthenticationError",
                            "missing bearer token: send 'Authorization: Bearer <token>'")
        offered = token.strip().encode()
        found: str | None = None
        for secret, principal in self._grants:
            if hmac.compare_digest(offered, secret) and found is None:
                found = principal
        if found is None:
            raise HttpError(401, "AuthenticationError", "invalid bearer token")
        return found

    async def __call__(self, request: Request) -> str:
        """FastAPI dependency: the principal of the request."""
        principal = self.principal(request.headers.get("authorization"))
        request.state.principal = principal
        return principal


def check_auth_setup(grants: Sequence[TokenGrant], *, insecure: bool, host: str) -> None:
    """Reject a bridge without tokens, unless ``insecure`` is set and ``host`` is loopback."""
    if grants and insecure:
        raise ConfigError(
            "--insecure-no-auth was given, but scaffolder.auth.tokens configures tokens",
            hint="remove --insecure-no-auth to require the configured tokens",
        )
    if grants:
        return
    if not insecure:
        raise ConfigError(
            "no bearer token is configured in scaffolder.auth.tokens, so every request would "
            "be rejected",
            hint="add a {token, principal} entry, or pass --insecure-no-auth on a loopback host",
        )
    if not is_loopback(host):
        raise ConfigError(
            f"--insecure-no-auth is allowed only on a loopback host, not {host!r}",
            hint="use --host 127.0.0.1, or configure scaffolder.auth.tokens",
        )
    logger.warning("authentication is OFF (--insecure-no-auth): every request runs as %s",
                   INSECURE_PRINCIPAL)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
