"""Turning state records into the JSON shapes of PagerDuty's REST API.

``self`` links point at the simulator, so a client that follows them stays on loopback;
``html_url`` links use ``https://<subdomain>.pagerduty.com`` as the web app does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaffolder.pagerduty.simulator.state import Record, State

JSON = dict[str, Any]


@dataclass(frozen=True)
class Renderer:
    """Builds API objects for one simulator: ``api_url`` is its REST base URL."""

    state: State
    api_url: str
    subdomain: str

    @property
    def web_url(self) -> str:
        return f"https://{self.subdomain}.pagerduty.com"

    def reference(self, kind: str, object_id: str, summary: str, web_path: str | None) -> JSON:
        """Return a ``<kind>_reference``; ``kind`` is also the path segment plus ``s``."""
        return {
            "id": object_id,
            "type": f"{kind}_reference",
            "summary": summary,
            "self": f"{self.api_url}/{kind}s/{object_id}",
            "html_url": f"{self.web_url}/{web_path}" if web_path else None,
        }

    def user_ref(self, user_id: str) -> JSON:
        user = self.state.users[user_id]
        return self.reference("user", user_id, user["name"], f"users/{user_id}")

    def schedule_ref(self, schedule_id: str) -> JSON:
        schedule = self.state.schedules[schedule_id]
        return self.reference("schedule", schedule_id, schedule["name"], f"schedules/{schedule_id}")

    def escalation_policy_ref(self, policy_id: str) -> JSON:
        policy = self.state.escalation_policies[policy_id]
        path = f"escalation_policies/{policy_id}"
        return {
            **self.reference("escalation_policy", policy_id, policy["name"], path),
            "self": f"{self.api_url}/escalation_policies/{policy_id}",
        }

    def service_ref(self, service_id: str) -> JSON:
        service = self.state.services[service_id]
        return self.reference(
            "service", service_id, service["name"], f"service-directory/{service_id}"
        )

    def vendor_ref(self, vendor_id: str) -> JSON:
        vendor = self.state.vendors[vendor_id]
        return {**self.reference("vendor", vendor_id, vendor["name"], None), "html_url": None}

    def integration_ref(self, integration: Record) -> JSON:
        service_id = integration["service_id"]
        path = f"services/{service_id}/integrations/{integration['id']}"
        return {
            "id": integration["id"],
            "type": f"{integration['type']}_reference",
            "summary": integration["name"],
            "self": f"{self.api_url}/{path}",
            "html_url": f"{self.web_url}/{path}",
        }

    def user(self, user_id: str) -> JSON:
        user = self.state.users[user_id]
        return {
            **self.user_ref(user_id),
            "type": "user",
            "name": user["name"],
            "email": user["email"],
            "time_zone": user["time_zone"],
            "color": user["color"],
            "role": user["role"],
            "job_title": user["job_title"],
            "avatar_url": f"https://secure.gravatar.com/avatar/{user_id.lower()}.png?d=mm&r=PG",
            "description": "",
            "invitation_sent": False,
            "teams": [],
            "contact_methods": [],
            "notification_rules": [],
        }

    def vendor(self, vendor_id: str) -> JSON:
        vendor = self.state.vendors[vendor_id]
        return {
            **self.vendor_ref(vendor_id),
            "type": "vendor",
            "name": vendor["name"],
            "description": vendor["description"],
            "website_url": vendor["website_url"],
            "logo_url": f"{self.web_url}/vendors/{vendor_id}/logo.png",
            "thumbnail_url": f"{self.web_url}/vendors/{vendor_id}/thumbnail.png",
            "integration_guide_url": "https://www.pagerduty.com/docs/guides/",
        }

    def escalation_policy(self, policy_id: str) -> JSON:
        policy = self.state.escalation_policies[policy_id]
        rules = [
            {
                "id": rule["id"],
                "escalation_delay_in_minutes": rule["escalation_delay_in_minutes"],
                "targets": [self._target(target) for target in rule["targets"]],
            }
            for rule in policy["escalation_rules"]
        ]
        return {
            **self.escalation_policy_ref(policy_id),
            "type": "escalation_policy",
            "name": policy["name"],
            "description": policy["description"],
            "num_loops": policy["num_loops"],
            "on_call_handoff_notifications": "if_has_services",
            "escalation_rules": rules,
            "services": [self.service_ref(s["id"]) for s in self.state.services_on(policy_id)],
            "teams": [],
        }

    def _target(self, target: Record) -> JSON:
        if target["type"] == "schedule_reference":
            return self.schedule_ref(target["id"])
        return self.user_ref(target["id"])

    def service(self, service_id: str, include: set[str]) -> JSON:
        """Return the service; ``include`` may hold ``integrations`` and ``escalation_policies``."""
        service = self.state.services[service_id]
        integrations = self.state.integrations_of(service_id)
        body = {k: v for k, v in service.items() if k not in ("id", "escalation_policy_id")}
        policy_id = service["escalation_policy_id"]
        return {
            **self.service_ref(service_id),
            "type": "service",
            **body,
            "status": self._service_status(service),
            "escalation_policy": (
                self.escalation_policy(policy_id)
                if "escalation_policies" in include
                else self.escalation_policy_ref(policy_id)
            ),
            "integrations": [
                self.integration(i) if "integrations" in include else self.integration_ref(i)
                for i in integrations
            ],
            "teams": [],
            "addons": [],
            **self._last_incident(service_id),
        }

    def _service_status(self, service: Record) -> str:
        if service["status"] in ("disabled", "maintenance"):
            return str(service["status"])
        statuses = {
            i["status"] for i in self.state.incidents.values() if i["service_id"] == service["id"]
        }
        if "triggered" in statuses:
            return "critical"
        if "acknowledged" in statuses:
            return "warning"
        return "active"

    def _last_incident(self, service_id: str) -> JSON:
        times = [
            i["created_at"] for i in self.state.incidents.values() if i["service_id"] == service_id
        ]
        return {"last_incident_timestamp": max(times)} if times else {}

    def integration(self, integration: Record) -> JSON:
        body: JSON = {
            **self.integration_ref(integration),
            "type": integration["type"],
            "name": integration["name"],
            "service": self.service_ref(integration["service_id"]),
            "created_at": integration["created_at"],
        }
        if integration.get("vendor_id"):
            body["vendor"] = self.vendor_ref(integration["vendor_id"])
        for key in ("integration_key", "integration_email"):
            if key in integration:
                body[key] = integration[key]
        return body

    def oncall(self, oncall: Record, include: set[str]) -> JSON:
        user_id = oncall["user_id"]
        body: JSON = {
            "user": self.user(user_id) if "users" in include else self.user_ref(user_id),
            "escalation_policy": self.escalation_policy_ref(oncall["escalation_policy_id"]),
            "escalation_level": oncall["escalation_level"],
            "schedule": None,
            "start": oncall["start"],
            "end": oncall["end"],
        }
        if oncall["schedule_id"]:
            body["schedule"] = self.schedule_ref(oncall["schedule_id"])
        return body

    def incident(self, incident: Record, include: set[str] | None = None) -> JSON:
        """Return the incident; ``include`` may hold ``assignees`` for full user objects."""
        service = self.state.services[incident["service_id"]]
        number = incident["incident_number"]
        incident_id = incident["id"]
        return {
            **self.reference("incident", incident_id, f"[#{number}] {incident['title']}", None),
            "html_url": f"{self.web_url}/incidents/{incident_id}",
            "type": "incident",
            "incident_number": number,
            "title": incident["title"],
            "status": incident["status"],
            "urgency": incident["urgency"],
            "incident_key": incident["incident_key"],
            "created_at": incident["created_at"],
            "updated_at": incident["updated_at"],
            "last_status_change_at": incident["updated_at"],
            **({"resolved_at": incident["resolved_at"]} if incident["resolved_at"] else {}),
            "service": self.service_ref(service["id"]),
            "escalation_policy": self.escalation_policy_ref(service["escalation_policy_id"]),
            "assignments": self._assignments(incident, include or set()),
            "acknowledgements": [],
            "assigned_via": "escalation_policy",
            "teams": [],
            "pending_actions": [],
            "is_mergeable": True,
            "incident_type": {"name": "incident_default"},
        }

    def _assignments(self, incident: Record, include: set[str]) -> list[JSON]:
        # PagerDuty lists no assignments for a resolved incident.
        if incident["status"] == "resolved":
            return []
        full = "assignees" in include
        return [
            {
                "at": incident["created_at"],
                "assignee": self.user(user_id) if full else self.user_ref(user_id),
            }
            for user_id in incident.get("assignee_ids", [])
            if user_id in self.state.users
        ]

    def change_event(self, event: Record) -> JSON:
        body: JSON = {
            "id": event["id"],
            "type": "change_event",
            "summary": event["summary"],
            "timestamp": event["timestamp"],
            "source": event["source"],
            "services": [
                {"id": service_id, "type": "service_reference"}
                for service_id in event["service_ids"]
            ],
            "custom_details": event["custom_details"],
            "links": event["links"],
        }
        if event["integration_id"]:
            body["integration"] = {
                "id": event["integration_id"],
                "type": "inbound_integration_reference",
            }
        return body
