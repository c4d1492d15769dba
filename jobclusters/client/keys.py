"""The function key the CLI sends: the same settings devhost reads (environment first, then
`local.settings.json` Values of the app), or `JOBCLUSTERS_API_KEY` for a deployed app."""

from __future__ import annotations

import json
import os
from pathlib import Path

KEY_SETTINGS = ("JOBCLUSTERS_API_KEY", "DEVHOST_FUNCTION_KEY", "DEVHOST_MASTER_KEY")


def local_settings(project_dir: Path) -> dict[str, str]:
    path = project_dir / "local.settings.json"
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in values.items() if isinstance(v, str | int | float) and v != ""}


def function_key(project_dir: Path) -> str | None:
    settings = local_settings(project_dir)
    for name in KEY_SETTINGS:
        value = os.environ.get(name) or settings.get(name)
        if value:
            return value.split(",")[0].strip() or None
    return None
