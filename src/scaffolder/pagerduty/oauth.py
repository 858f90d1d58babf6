"""Scoped OAuth access tokens: the client-credentials request and a thread-safe token cache.

PagerDuty issues tokens for ``grant_type=client_credentials`` at one token URL for both regions;
the scope ``as_account-<region>.<subDomain>`` selects the account and the other scopes name the
permissions (``services.write`` and so on).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scaffolder.pagerduty.accounts import OAuthSettings

logger = logging.getLogger("scaffolder.pagerduty")

RENEW_MARGIN = 60.0
"""Seconds before expiry at which a token is renewed (at most a tenth of its lifetime)."""


@dataclass(frozen=True)
class OAuthToken:
    """An access token, when to renew it (on the cache's clock), and the scopes granted."""

    access_token: str
    renew_at: float
    scopes: frozenset[str]


def token_request_form(settings: OAuthSettings, scopes: Iterable[str]) -> dict[str, str]:
    """Return the form fields of a client-credentials token request for ``scopes``."""
    scope = " ".join([settings.account_scope, *sorted(set(scopes))])
    return {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "scope": scope,
    }


def parse_token_response(body: Any, now: float) -> OAuthToken:
    """Read ``access_token``, ``expires_in`` and ``scope`` from a token endpoint's JSON body.

    Raises ``ValueError`` when the body has no usable ``access_token``.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("access_token"), str):
        raise ValueError("the token response has no access_token")

    lifetime = float(body.get("expires_in") or 3600)
    margin = min(RENEW_MARGIN, lifetime / 10)
    scopes = frozenset(str(body.get("scope") or "").split())
    return OAuthToken(
        access_token=body["access_token"], renew_at=now + lifetime - margin, scopes=scopes
    )


class TokenCache:
    """One account's current token, fetched by one thread at a time.

    When the token is missing or due for renewal, the first caller fetches a new one while the
    others wait on a condition for its result; if that fetch fails, the next waiter tries.
    """

    def __init__(
        self,
        fetch: Callable[[], OAuthToken],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._condition = threading.Condition()
        self._token: OAuthToken | None = None
        self._fetching = False
        self.fetch_count = 0

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """Scopes granted with the current token, or None before the first token."""
        with self._condition:
            return self._token.scopes if self._token else None

    def get(self) -> str:
        """Return a valid access token, fetching one first when needed."""
        with self._condition:
            while True:
                token = self._token
                if token is not None and self._clock() < token.renew_at:
                    return token.access_token
                if not self._fetching:
                    self._fetching = True
                    break
                self._condition.wait()

        try:
            fresh = self._fetch()
        except BaseException:
            with self._condition:
                self._fetching = False
                self._condition.notify_all()
            raise

        with self._condition:
            self._token = fresh
            self._fetching = False
            self.fetch_count += 1
            self._condition.notify_all()
        logger.debug("OAuth token fetched (fetch %d of this process)", self.fetch_count)
        return fresh.access_token

    def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` after PagerDuty rejected it, unless it was already renewed."""
        with self._condition:
            if self._token is not None and self._token.access_token == access_token:
                self._token = None
