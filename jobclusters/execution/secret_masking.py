"""Mask the secret values a task was given wherever its logs are shown.

A task gets secrets as environment variables whose definition value is an app-setting reference
(`%SETTING%`, on Azure often itself a Key Vault reference the platform resolves): `batch_mapping`
turns those into Batch `secretRef`s resolved from the app settings when the task is submitted. A task
that prints such a variable puts the value in its stdout; these functions find the values that task was
given and mask them in any text shown to a caller. Values shorter than `MIN_MASKED` are left alone: masking
every `1` or `on` in a log would hide the log, not a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jobclusters.execution.batch_mapping import environment_settings
from jobclusters.spec.model import Job

MASK = "***"
MIN_MASKED = 4


def task_secret_values(job: Job, task_key: str, app_settings: Mapping[str, str]) -> list[str]:
    """The values of the app settings the task's environment references, longest first."""
    environment = dict(job.environment)
    for task in job.tasks:
        if task.key == task_key:
            environment.update(task.environment)
    names = {s.secret_ref for s in environment_settings(environment) if s.secret_ref}
    values = {app_settings[n] for n in names if len(app_settings.get(n) or "") >= MIN_MASKED}
    return sorted(values, key=lambda v: (-len(v), v))


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def mask_strings(value: Any, secrets: list[str]) -> Any:
    """A copy of a JSON-like value with every string masked."""
    if not secrets:
        return value
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, Mapping):
        return {k: mask_strings(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_strings(v, secrets) for v in value]
    return value
