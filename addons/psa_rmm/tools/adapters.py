"""Map real RMM webhook payloads onto the documented PSA event format. Plain Python, no ORM.

Each adapter takes the decoded JSON body and returns a list of events in *our* format (dicts as
documented in readme/USAGE.md), which :func:`events.normalize_batch` then validates. A body whose
shape the adapter does not recognise raises ``EventError(422, "unknown_shape", ...)``.
"""

from .events import EventError, normalize_batch


def _unknown(kind, detail):
    return EventError(422, "unknown_shape", f"Not a {kind} payload this integration understands: {detail}.")


def _as_list(data):
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return data["events"]
    return [data]


# --- Tactical RMM -----------------------------------------------------------------------------
# Tactical RMM sends "webhooks" from alert templates (Settings > Global Settings > Web hooks, then an
# alert template's failure / resolved action). The request body is a JSON template the admin writes
# with Tactical's template variables. We rely only on these variables (see readme/USAGE.md for the
# template to paste): {{alert.id}}, {{alert.alert_time}}, {{alert.severity}} (info / warning / error),
# {{alert.message}}, {{alert.alert_type}}, {{agent.agent_id}}, {{agent.hostname}},
# {{agent.monitoring_type}} (server / workstation), {{agent.site.id}} (or {{client.id}}), plus a
# literal "event": "failure" in the failure action and "event": "resolved" in the resolved action.
# Tactical resolves an alert by itself when the failing check passes again: that is our auto-resolve.
TACTICAL_EVENTS = {"failure": "alert.raised", "resolved": "alert.auto_resolved"}


def _tactical_one(item):
    if not isinstance(item, dict):
        raise _unknown("Tactical RMM", "an item is not an object")
    alert, agent = item.get("alert"), item.get("agent")
    if not isinstance(alert, dict) or not isinstance(agent, dict):
        raise _unknown("Tactical RMM", "'alert' and 'agent' objects are required")
    trigger = item.get("event")
    if trigger not in TACTICAL_EVENTS:
        raise _unknown("Tactical RMM", "'event' must be 'failure' or 'resolved'")
    site = agent.get("site") if isinstance(agent.get("site"), dict) else {}
    site_id = site.get("id") or agent.get("site_id") or item.get("client_id")
    occurred_at = alert.get("resolved_on") if trigger == "resolved" else alert.get("alert_time")
    occurred_at = occurred_at or alert.get("alert_time")
    monitoring_type = agent.get("monitoring_type")
    return {
        # Tactical has no delivery id: the alert id, the trigger and the time make one that a retry
        # of the same webhook repeats and a new failure does not.
        "id": f"trmm-{alert.get('id')}-{trigger}-{occurred_at}",
        "type": TACTICAL_EVENTS[trigger],
        "occurred_at": occurred_at,
        "site_id": site_id,
        "device": {
            "id": agent.get("agent_id"),
            "name": agent.get("hostname"),
            "type": monitoring_type if monitoring_type in ("server", "workstation") else "other",
        },
        "alert": {
            "id": alert.get("id"),
            "severity": alert.get("severity"),
            "title": (alert.get("message") or "").split("\n", 1)[0][:255] or alert.get("alert_type"),
            "message": alert.get("message"),
        },
    }


def adapt_tacticalrmm(data):
    return [_tactical_one(item) for item in _as_list(data)]


# --- NinjaOne ---------------------------------------------------------------------------------
# NinjaOne posts its activities ("webhook" notification channel, API v2 activity objects). We rely on:
# id, activityTime (unix seconds), activityType ("CONDITION"), statusCode ("TRIGGERED" when a condition
# fires, "RESET" when NinjaOne clears it by itself), severity (NONE / MINOR / MODERATE / MAJOR /
# CRITICAL), seriesUid (same for the trigger and its reset), sourceName / subject, message, deviceId, and
# the device object when present: device.organizationId (the customer: our site id),
# device.systemName / displayName, device.nodeClass (WINDOWS_SERVER, WINDOWS_WORKSTATION, MAC,
# LINUX_SERVER, NMS_SWITCH, ...). Activities of type "SYSTEM" with statusCode NODE_CREATED /
# NODE_DELETED map to device events.
NINJA_SEVERITY = {
    "NONE": "info",
    "MINOR": "low",
    "MODERATE": "warning",
    "MAJOR": "error",
    "CRITICAL": "critical",
}
NINJA_STATUS = {
    ("CONDITION", "TRIGGERED"): "alert.raised",
    ("CONDITION", "RESET"): "alert.auto_resolved",
    ("SYSTEM", "NODE_CREATED"): "device.upserted",
    ("SYSTEM", "NODE_UPDATED"): "device.upserted",
    ("SYSTEM", "NODE_DELETED"): "device.removed",
}


def ninja_device_type(node_class):
    node_class = (node_class or "").upper()
    if "SERVER" in node_class or "VM_HOST" in node_class or "HYPERV" in node_class:
        return "server"
    if node_class.startswith("NMS") or "NETWORK" in node_class:
        return "network"
    if node_class in ("ANDROID", "APPLE_IOS", "APPLE_IPADOS"):
        return "mobile"
    if "WORKSTATION" in node_class or "LAPTOP" in node_class or node_class in ("MAC", "LINUX_WORKSTATION"):
        return "workstation"
    return "other"


def _ninja_one(item):
    if not isinstance(item, dict) or "activityType" not in item or "statusCode" not in item:
        raise _unknown("NinjaOne", "'activityType' and 'statusCode' are required")
    key = (str(item["activityType"]).upper(), str(item["statusCode"]).upper())
    if key not in NINJA_STATUS:
        raise _unknown("NinjaOne", f"activity {key[0]}/{key[1]} is not handled")
    device = item.get("device") if isinstance(item.get("device"), dict) else {}
    event = {
        "id": f"ninja-{item.get('id')}",
        "type": NINJA_STATUS[key],
        "occurred_at": item.get("activityTime"),
        "site_id": device.get("organizationId") or item.get("organizationId"),
        "device": {
            "id": item.get("deviceId") or device.get("id"),
            "name": device.get("displayName") or device.get("systemName") or device.get("dnsName"),
            "type": ninja_device_type(device.get("nodeClass")),
        },
    }
    if key[0] == "CONDITION":
        event["alert"] = {
            # the trigger and its reset share the series uid: that is the alert
            "id": item.get("seriesUid") or item.get("sourceConfigUid"),
            "severity": NINJA_SEVERITY.get(str(item.get("severity") or "").upper(), "warning"),
            "title": item.get("sourceName") or item.get("subject"),
            "message": item.get("message") or item.get("subject"),
        }
    return event


def adapt_ninjaone(data):
    return [_ninja_one(item) for item in _as_list(data)]


ADAPTERS = {
    "native": lambda data: data,
    "tacticalrmm": adapt_tacticalrmm,
    "ninjaone": adapt_ninjaone,
}


def parse_payload(kind, data):
    """Decoded JSON of an integration of ``kind`` -> list of normalized events (or EventError)."""
    if kind not in ADAPTERS:
        raise EventError(422, "unknown_shape", f"No adapter for {kind!r}.")
    return normalize_batch(ADAPTERS[kind](data))
