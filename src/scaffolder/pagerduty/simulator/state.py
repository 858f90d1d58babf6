"""In-memory data of one simulated PagerDuty account.

Records are plain dictionaries in an internal form: they keep the ids of related objects
(``escalation_policy_id``, ``service_id``) and :mod:`.render` turns them into the API's shapes
with references and URLs. Every id comes from :class:`IdFactory`, so the same seed always
gives the same ids.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def utc_now() -> str:
    """Return the current time as PagerDuty writes it: ISO 8601, UTC, seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IdFactory:
    """Deterministic ids: each call hashes the namespace and a counter.

    Two simulators with the same namespace (seed and subdomain) hand out the same ids in the
    same order, and different namespaces give different ids.
    """

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._counter = 0
        self._used: set[str] = set()

    def _digest(self, purpose: str) -> bytes:
        self._counter += 1
        text = f"{self._namespace}\x00{purpose}\x00{self._counter}"
        return hashlib.sha256(text.encode()).digest()

    def object_id(self, prefix: str = "P") -> str:
        """Return a new id like ``PIJ90N7``: the prefix and six upper-case letters or digits."""
        while True:
            digest = self._digest("id")
            candidate = prefix + "".join(
                ID_ALPHABET[byte % len(ID_ALPHABET)] for byte in digest[:6]
            )
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate

    def reserve(self, object_id: str) -> None:
        """Mark an id given by the seed as taken."""
        self._used.add(object_id)

    def hex_key(self) -> str:
        """Return 32 lower-case hex digits, the shape of an integration key."""
        return self._digest("key").hex()[:32]

    def token(self, purpose: str, length: int) -> str:
        """Return ``length`` letters and digits for credentials and OAuth tokens."""
        digest = self._digest(purpose) + self._digest(purpose)
        alphabet = ID_ALPHABET + ID_ALPHABET.lower()
        return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


@dataclass
class Account:
    """The identity of the simulated account and the credentials it accepts."""

    subdomain: str
    region: str
    api_token: str
    client_id: str
    client_secret: str
    granted_scopes: set[str]


@dataclass
class State:
    """Every object of the account, keyed by id, guarded by ``lock``.

    Request handlers run on several threads: take ``lock`` around any read that must be
    consistent and around every change.
    """

    ids: IdFactory
    abilities: list[str] = field(default_factory=list)
    vendors: dict[str, Record] = field(default_factory=dict)
    users: dict[str, Record] = field(default_factory=dict)
    schedules: dict[str, Record] = field(default_factory=dict)
    escalation_policies: dict[str, Record] = field(default_factory=dict)
    services: dict[str, Record] = field(default_factory=dict)
    integrations: dict[str, Record] = field(default_factory=dict)
    oncalls: list[Record] = field(default_factory=list)
    incidents: dict[str, Record] = field(default_factory=dict)
    change_events: list[Record] = field(default_factory=list)
    dependencies: list[Record] = field(default_factory=list)
    standards: list[Record] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def service_by_name(self, name: str) -> Record | None:
        """Return the service whose name equals ``name`` ignoring case, as PagerDuty compares."""
        folded = name.casefold()
        for service in self.services.values():
            if str(service["name"]).casefold() == folded:
                return service
        return None

    def integration_by_key(self, integration_key: str) -> Record | None:
        for integration in self.integrations.values():
            if integration.get("integration_key") == integration_key:
                return integration
        return None

    def integrations_of(self, service_id: str) -> list[Record]:
        return [i for i in self.integrations.values() if i["service_id"] == service_id]

    def services_on(self, escalation_policy_id: str) -> list[Record]:
        return [
            s for s in self.services.values() if s["escalation_policy_id"] == escalation_policy_id
        ]

    def first_level_user_ids(self, escalation_policy_id: str) -> list[str]:
        """Return the users on call at the lowest level of a policy, each once, in seed order.

        An incident that the policy routes is assigned to them, as PagerDuty assigns it.
        """
        levels = [o for o in self.oncalls if o["escalation_policy_id"] == escalation_policy_id]
        if not levels:
            return []
        lowest = min(int(o["escalation_level"]) for o in levels)
        user_ids = [str(o["user_id"]) for o in levels if o["escalation_level"] == lowest]
        return list(dict.fromkeys(user_ids))

    def next_incident_number(self) -> int:
        return max((int(i["incident_number"]) for i in self.incidents.values()), default=0) + 1

    def delete_service(self, service_id: str) -> None:
        """Delete a service with its integrations, incidents, change events and dependencies."""
        del self.services[service_id]
        for integration_id in [i["id"] for i in self.integrations_of(service_id)]:
            del self.integrations[integration_id]
        for incident_id in [k for k, v in self.incidents.items() if v["service_id"] == service_id]:
            del self.incidents[incident_id]
        self.change_events = [e for e in self.change_events if service_id not in e["service_ids"]]
        self.dependencies = [
            d
            for d in self.dependencies
            if service_id not in (d["supporting_service"]["id"], d["dependent_service"]["id"])
        ]
