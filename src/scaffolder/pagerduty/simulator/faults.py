"""Switchable faults: rate limits, server errors, slow answers, dropped connections, bad JSON."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from scaffolder.errors import InputError

FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop", "bad_json")

ANY_ROUTE = "*"


@dataclass
class Fault:
    """One injected fault on ``route`` (a route key like ``POST /services``, or ``*``).

    ``times`` is how many more requests it hits (``None``: until cleared); ``probability``
    makes each matching request a hit with that chance; ``delay`` is the wait in seconds
    before the answer (the whole point of ``slow``); ``reset_after`` is the
    ``ratelimit-reset`` value in seconds sent with ``429``.
    """

    route: str
    kind: str
    times: int | None = None
    probability: float | None = None
    delay: float = 0.0
    reset_after: int = 1


class FaultTable:
    """The active faults of one simulator; thread-safe.

    Random draws use a generator with a fixed seed, so a test that sends the same requests in
    the same order sees the same faults on every run.
    """

    def __init__(self, routes: set[str]) -> None:
        self._routes = routes
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(0)

    def add(self, fault: Fault) -> None:
        _check(fault, self._routes)
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, route: str) -> Fault | None:
        """Return the first fault that hits this request on ``route``, using up one of its times."""
        with self._lock:
            for fault in self._faults:
                if fault.route not in (route, ANY_ROUTE):
                    continue
                if fault.probability is not None and self._random.random() >= fault.probability:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None


def _check(fault: Fault, routes: set[str]) -> None:
    if fault.kind not in FAULT_KINDS:
        raise InputError(
            f"unknown fault {fault.kind!r}", hint=f"use one of {', '.join(FAULT_KINDS)}"
        )
    if fault.route != ANY_ROUTE and fault.route not in routes:
        raise InputError(
            f"unknown route {fault.route!r} for a fault",
            hint=f"use '*' or one of: {', '.join(sorted(routes))}",
        )
    if fault.times is not None and fault.times < 1:
        raise InputError(f"fault times must be 1 or more, got {fault.times!r}")
    if fault.probability is not None and not 0.0 <= fault.probability <= 1.0:
        raise InputError(f"fault probability must be within 0..1, got {fault.probability!r}")
    if fault.delay < 0:
        raise InputError(f"fault delay must not be negative, got {fault.delay!r}")
    if fault.kind == "slow" and fault.delay <= 0:
        raise InputError("fault 'slow' needs a delay in seconds above 0, e.g. delay=0.5")
    if fault.reset_after < 0:
        raise InputError(f"fault reset_after must not be negative, got {fault.reset_after!r}")
