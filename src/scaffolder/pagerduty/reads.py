"""Reads of a service's live state: who is on call, open incidents, recent change events.

Each ``list_*`` function returns PagerDuty's own objects (the shapes the Backstage plugin's
routes pass on) and each ``*_summary`` function the few fields the CLI and the actions show.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from scaffolder.pagerduty.client import PAGE_LIMIT, PagerDutyClient

OPEN_STATUSES = ["triggered", "acknowledged"]
DEFAULT_CHANGE_EVENTS = 25


def lowest_level_oncalls(
    client: PagerDutyClient, escalation_policy_ids: list[str]
) -> list[dict[str, Any]]:
    """Return the on-calls at the lowest escalation level, one per user, sorted by user name.

    Every page of ``GET /oncalls`` is read before the lowest level is chosen, because
    PagerDuty does not promise that the first page contains it. Each on-call has the full ``user``
    (``include[]=users``).
    """
    if not escalation_policy_ids:
        return []
    oncalls = client.list_all(
        "/oncalls",
        "oncalls",
        {
            "time_zone": "UTC",
            "include[]": ["users"],
            "escalation_policy_ids[]": escalation_policy_ids,
        },
    )
    oncalls = [oncall for oncall in oncalls if isinstance(oncall.get("user"), dict)]
    if not oncalls:
        return []

    lowest = min(int(oncall["escalation_level"]) for oncall in oncalls)
    by_user: dict[str, dict[str, Any]] = {}
    for oncall in oncalls:
        if int(oncall["escalation_level"]) == lowest:
            by_user.setdefault(str(oncall["user"]["id"]), oncall)
    return sorted(by_user.values(), key=_user_sort_key)


def _user_sort_key(oncall: dict[str, Any]) -> tuple[str, str]:
    user = oncall["user"]
    name = str(user.get("name") or user.get("summary") or "")
    return (name.casefold(), str(user["id"]))


def oncall_summary(oncall: dict[str, Any]) -> dict[str, Any]:
    """Return ``{id, name, email, html_url, avatar_url, escalation_level}`` of an on-call."""
    user = oncall["user"]
    return {
        "id": str(user["id"]),
        "name": str(user.get("name") or user.get("summary") or ""),
        "email": str(user.get("email") or ""),
        "html_url": str(user.get("html_url") or ""),
        "avatar_url": str(user.get("avatar_url") or ""),
        "escalation_level": int(oncall["escalation_level"]),
    }


def list_open_incidents(client: PagerDutyClient, service_id: str) -> list[dict[str, Any]]:
    """Return the triggered and acknowledged incidents of a service, newest first.

    ``date_range=all`` is sent because without it PagerDuty lists only the last 30 days, and
    an incident open for longer is still open. Every page is read; an incident that moves
    between pages while they are read is kept once.
    """
    incidents = client.list_all(
        "/incidents",
        "incidents",
        {
            "statuses[]": OPEN_STATUSES,
            "service_ids[]": [service_id],
            "date_range": "all",
            "time_zone": "UTC",
            "sort_by": "created_at:desc",
            "include[]": ["assignees"],
        },
    )
    unique = {str(incident["id"]): incident for incident in incidents}
    return sorted(unique.values(), key=_newest_first_key, reverse=True)


def _newest_first_key(incident: dict[str, Any]) -> tuple[str, int]:
    return (_created_at(incident), int(incident.get("incident_number") or 0))


def _created_at(incident: dict[str, Any]) -> str:
    # PagerDuty writes UTC times as "2024-05-01T10:00:00Z", which sort as text.
    return str(incident.get("created_at") or "")


def incident_summary(incident: dict[str, Any]) -> dict[str, Any]:
    """Return ``{id, incident_number, title, status, urgency, created_at, html_url, assignees}``.

    ``assignees`` contains ``{id, name}`` of each assigned user.
    """
    assignees = []
    for assignment in incident.get("assignments") or []:
        assignee = assignment.get("assignee") if isinstance(assignment, dict) else None
        if isinstance(assignee, dict):
            name = assignee.get("name") or assignee.get("summary") or ""
            assignees.append({"id": str(assignee.get("id")), "name": str(name)})
    return {
        "id": str(incident["id"]),
        "incident_number": int(incident.get("incident_number") or 0),
        "title": str(incident.get("title") or ""),
        "status": str(incident.get("status") or ""),
        "urgency": str(incident.get("urgency") or ""),
        "created_at": _created_at(incident),
        "html_url": str(incident.get("html_url") or ""),
        "assignees": assignees,
    }


def list_change_events(
    client: PagerDutyClient, service_id: str, limit: int = DEFAULT_CHANGE_EVENTS
) -> list[dict[str, Any]]:
    """Return up to ``limit`` of the service's most recent change events, newest first.

    PagerDuty lists a service's change events newest first, so pages are read only until
    ``limit`` events are in hand.
    """
    path = f"/services/{quote(service_id, safe='')}/change_events"
    events: list[dict[str, Any]] = []
    offset = 0
    while len(events) < limit:
        page = client.get(path, {"limit": min(PAGE_LIMIT, limit), "offset": offset})
        batch = page.get("change_events")
        if not isinstance(batch, list):
            batch = []
        events.extend(item for item in batch if isinstance(item, dict))
        if not page.get("more") or not batch:
            break
        offset += len(batch)
    events.sort(key=lambda event: str(event.get("timestamp") or ""), reverse=True)
    return events[:limit]


def change_event_summary(event: dict[str, Any]) -> dict[str, Any]:
    """Return ``{id, summary, timestamp, source, links}``, and ``html_url`` when PagerDuty
    sends one."""
    links = [
        {"href": str(link.get("href") or ""), "text": str(link.get("text") or "")}
        for link in event.get("links") or []
        if isinstance(link, dict)
    ]
    summary: dict[str, Any] = {
        "id": str(event.get("id") or ""),
        "summary": str(event.get("summary") or ""),
        "timestamp": str(event.get("timestamp") or ""),
        "source": str(event.get("source") or ""),
        "links": links,
    }
    if event.get("html_url"):
        summary["html_url"] = str(event["html_url"])
    return summary
