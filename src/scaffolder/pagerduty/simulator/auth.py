"""Authentication: API tokens, scoped OAuth tokens and the client-credentials token endpoint."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from scaffolder.pagerduty.simulator.protocol import (
    CODE_ACCESS_DENIED,
    CODE_AUTHENTICATION,
    ApiError,
    Reply,
    Request,
    pd_error,
)
from scaffolder.pagerduty.simulator.state import Account, IdFactory

TOKEN_ROUTE = "POST /oauth/token"
DEFAULT_TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class Grant:
    """An issued OAuth access token: its scopes and expiry on the ``time.monotonic`` clock."""

    scopes: frozenset[str]
    expires_at: float


class TokenStore:
    """Issues and checks OAuth access tokens for one account; thread-safe."""

    def __init__(self, account: Account, ids: IdFactory) -> None:
        self.account = account
        self.lifetime = DEFAULT_TOKEN_LIFETIME
        self._ids = ids
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, request: Request) -> Reply:
        """Respond to ``POST /oauth/token`` as PagerDuty's identity service does."""
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "Only client_credentials is supported"
            )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.account.client_id,
            self.account.client_secret,
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        words = form.get("scope", "").split()
        expected = f"as_account-{self.account.region}.{self.account.subdomain}"
        accounts = [word for word in words if word.startswith("as_account-")]
        if accounts != [expected]:
            return _oauth_error(
                400, "invalid_scope", f"The scope must name the account as {expected!r}"
            )
        return self._grant(words, expected)

    def _grant(self, words: list[str], account_scope: str) -> Reply:
        requested = {word for word in words if not word.startswith("as_account-")}
        # OAuth lets the server grant fewer scopes than requested, and the reply lists them.
        scopes = (
            requested & self.account.granted_scopes if requested else self.account.granted_scopes
        )
        with self._lock:
            token = "pdus+_" + self._ids.token("oauth", 40)
            self._grants[token] = Grant(frozenset(scopes), time.monotonic() + self.lifetime)
        return Reply(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.lifetime,
                "scope": " ".join([account_scope, *sorted(scopes)]),
            },
        )

    def revoke_all(self) -> None:
        with self._lock:
            self._grants.clear()

    def authenticate(self, request: Request, scope: str) -> None:
        """Raise the 401 or 403 PagerDuty sends unless the request may run an operation."""
        header = request.headers.get("Authorization") or ""
        scheme, _, credential = header.partition(" ")
        if scheme == "Token" and credential.startswith("token="):
            if credential.removeprefix("token=") == self.account.api_token:
                return
            raise _unauthorized("The API token is invalid")
        if scheme.lower() == "bearer" and credential:
            self._check_grant(credential, scope)
            return
        raise _unauthorized("Send 'Authorization: Token token=<API token>' or a Bearer token")

    def _check_grant(self, token: str, scope: str) -> None:
        with self._lock:
            grant = self._grants.get(token)
        if grant is None:
            raise _unauthorized("The OAuth access token is invalid or was revoked")
        if grant.expires_at <= time.monotonic():
            raise _unauthorized("The OAuth access token has expired")
        if scope not in grant.scopes:
            raise pd_error(
                403,
                "Access Denied",
                CODE_ACCESS_DENIED,
                [f"The access token does not have the required scope {scope!r}"],
            )


def _unauthorized(detail: str) -> ApiError:
    return pd_error(401, "Authentication failed", CODE_AUTHENTICATION, [detail])


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description})
