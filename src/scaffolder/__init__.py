"""Run Backstage Software Templates outside Backstage, with first-class PagerDuty actions."""

from __future__ import annotations

__version__ = "0.1.0"
