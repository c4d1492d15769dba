"""ADF / Synapse trigger resources -> our schedule and storage-event triggers.

A pipeline document may carry its triggers in a top-level `triggers` list (an extension: in ADF they are
separate resources naming the pipeline). `ScheduleTrigger` recurrences become Quartz cron expressions;
`BlobEventsTrigger` becomes a storage-event trigger; tumbling-window and custom-event triggers are kept in
`home` with a warning.
"""

from __future__ import annotations

from jobclusters.quartz import timezone_problem
from jobclusters.spec.model import Schedule, StorageEventTrigger
from jobclusters.spec.reader import Node

#: ADF writes Windows time zone names; the common ones, as IANA ids
WINDOWS_ZONES = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Singapore Standard Time": "Asia/Singapore",
    "AUS Eastern Standard Time": "Australia/Sydney",
}
_WEEKDAYS = {
    "sunday": "SUN",
    "monday": "MON",
    "tuesday": "TUE",
    "wednesday": "WED",
    "thursday": "THU",
    "friday": "FRI",
    "saturday": "SAT",
}


def _ints(node: Node, key: str, low: int, high: int) -> list[int]:
    found = []
    for item in node.items(key):
        if isinstance(item.value, int) and not isinstance(item.value, bool) and low <= item.value <= high:
            found.append(item.value)
        else:
            item.error(None, f"expected an integer {low}-{high}, got {item.value!r}", "range")
    return sorted(set(found))


def _join(values: list[int], default: int) -> str:
    return ",".join(str(v) for v in values) if values else str(default)


def recurrence_to_cron(node: Node) -> str | None:
    """`recurrence{frequency, interval, startTime, schedule{minutes, hours, weekDays, monthDays}}`
    -> a Quartz cron expression."""
    frequency = node.choice("frequency", ["Minute", "Hour", "Day", "Week", "Month"], required=True)
    interval = node.integer("interval", default=1, minimum=1) or 1
    start = node.string("startTime") or ""
    start_hour = int(start[11:13]) if len(start) >= 16 and start[11:13].isdigit() else 0
    start_minute = int(start[14:16]) if len(start) >= 16 and start[14:16].isdigit() else 0
    plan = node.obj("schedule")
    minutes = _ints(plan, "minutes", 0, 59) if plan else []
    hours = _ints(plan, "hours", 0, 23) if plan else []
    month_days = _ints(plan, "monthDays", 1, 31) if plan else []
    week_days: list[str] = []
    if plan is not None:
        for item in plan.items("weekDays"):
            day = _WEEKDAYS.get(str(item.value).lower())
            if day is None:
                item.error(None, f"expected a day name such as Monday, got {item.value!r}", "enum")
            else:
                week_days.append(day)
    minute, hour = _join(minutes, start_minute), _join(hours, start_hour)
    if frequency == "Minute":
        return f"0 0/{interval} * * * ?"
    if frequency == "Hour":
        return f"0 {minute} 0/{interval} * * ?"
    if frequency == "Day":
        return f"0 {minute} {hour} {'*' if interval == 1 else f'1/{interval}'} * ?"
    if frequency == "Week":
        if interval != 1:
            node.warning(
                "interval",
                "a weekly recurrence every few weeks has no Quartz form; runs weekly",
                "recurrence",
            )
        return f"0 {minute} {hour} ? * {','.join(week_days) or 'MON'}"
    if frequency == "Month":
        month = "*" if interval == 1 else f"1/{interval}"
        return f"0 {minute} {hour} {_join(month_days, 1)} {month} ?"
    return None


def import_triggers(root: Node) -> tuple[Schedule | None, list[StorageEventTrigger], dict[str, object]]:
    schedule: Schedule | None = None
    events: list[StorageEventTrigger] = []
    kept: dict[str, object] = {}
    for trigger in root.objects("triggers"):
        name = trigger.string("name", required=True) or "trigger"
        props = trigger.obj("properties", required=True)
        if props is None:
            continue
        kind = props.string("type", required=True)
        body = props.obj("typeProperties", required=True)
        if body is None or kind is None:
            continue
        if kind == "ScheduleTrigger":
            recurrence = body.obj("recurrence", required=True)
            cron = recurrence_to_cron(recurrence) if recurrence is not None else None
            if cron is None or recurrence is None:
                continue
            zone_name = recurrence.string("timeZone") or "UTC"
            zone = WINDOWS_ZONES.get(zone_name, zone_name)
            problem = timezone_problem(zone)
            if problem is not None:
                recurrence.error(
                    "timeZone",
                    f"{problem} (or a Windows name such as UTC, W. Europe Standard Time)",
                    "timezone",
                )
                continue
            if schedule is not None:
                trigger.warning(None, "only the first schedule trigger is used", "schedule")
                continue
            paused = props.string("runtimeState") == "Stopped"
            schedule = Schedule(
                quartz_cron_expression=cron, timezone_id=zone, pause_status="PAUSED" if paused else "UNPAUSED"
            )
        elif kind == "BlobEventsTrigger":
            begins = body.string("blobPathBeginsWith")
            ends = body.string("blobPathEndsWith")
            if begins is None and ends is None:
                body.error(None, "required: blobPathBeginsWith or blobPathEndsWith", "required")
                continue
            container, prefix = None, None
            if begins is not None:
                segments = begins[1:].split("/", 2) if begins.startswith("/") else []
                if not segments or not segments[0] or (len(segments) > 1 and segments[1] != "blobs"):
                    body.error("blobPathBeginsWith", "expected /<container>/blobs/<prefix>", "path")
                    continue
                container = segments[0]
                prefix = segments[2] if len(segments) == 3 else None
            events.append(
                StorageEventTrigger(
                    container=container,
                    prefix=prefix or None,
                    suffix=ends,
                    ignore_empty_blobs=body.boolean("ignoreEmptyBlobs", default=True),
                    events=body.strings("events") or ["Microsoft.Storage.BlobCreated"],
                )
            )
        else:
            trigger.warning(
                None,
                f"{kind} {name!r} is kept, but jobclusters does not start runs from it yet",
                "unsupported-kind",
            )
            kept[name] = dict(trigger.value)
    return schedule, events, kept
