"""A local PagerDuty for tests and demos: REST API, Events API v2 and OAuth on loopback.

Start one :class:`Simulator` per account in a ``with`` block and point a client at its
``url`` with its ``api_token`` (or OAuth credentials).
"""

from scaffolder.pagerduty.simulator.core import ALL_SCOPES, ROUTE_KEYS, Simulator
from scaffolder.pagerduty.simulator.faults import FAULT_KINDS
from scaffolder.pagerduty.simulator.seed import BACKSTAGE_VENDOR_ID, DEMO_SEED, GROUPING_ABILITIES
from scaffolder.pagerduty.simulator.state import State

__all__ = [
    "ALL_SCOPES",
    "BACKSTAGE_VENDOR_ID",
    "DEMO_SEED",
    "FAULT_KINDS",
    "GROUPING_ABILITIES",
    "ROUTE_KEYS",
    "Simulator",
    "State",
]
