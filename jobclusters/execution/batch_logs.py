"""Where a Batch task's stdout/stderr outlive its node: Batch's own `outputFiles` upload of `../std*.txt`.

A task's `stdout.txt` and `stderr.txt` sit in the task directory, one level above its working directory,
and an on-demand pool takes them along when it is deleted. So every task the fan-out adds carries an
output file with the pattern `../std*.txt` and `uploadCondition: taskCompletion` (the documented way to
keep them), into `<logs container>/<run instance>/<task key>/attempt-<n>/<batch task id>/`. The blob
path comes from ids alone, so the orchestrator can name it and the tracking row can link to it; the
container URL (which may carry a SAS) is resolved in activities and never stored: links drop the query.
"""

from __future__ import annotations

from pydantic import SecretStr

from jobclusters.services.batch import (
    OutputFile,
    OutputFileContainer,
    OutputFileDestination,
    OutputFileUploadOptions,
)

LOGS_CONTAINER = "jobclusters-batch-logs"
LOG_PATTERN = "../std*.txt"
LOG_FILES = ("stdout.txt", "stderr.txt")


def log_prefix(control_id: str, task_key: str, attempt: int) -> str:
    """Blob folder of one attempt's Batch tasks (attempt counts from 1, like tracking rows)."""
    return f"{control_id}/{task_key}/attempt-{attempt}"


def logs_container_url(configured: SecretStr | None, account_url: str | None) -> str | None:
    """The configured logs container, else one in `account_url` (the factory passes the app's storage
    account in local mode only: on Azure, Batch could not write a private container without credentials)."""
    if configured is not None:
        return configured.get_secret_value().strip() or None
    if account_url:
        return f"{account_url.rstrip('/')}/{LOGS_CONTAINER}"
    return None


def log_output_file(container_url: str, prefix: str, task_id: str) -> OutputFile:
    return OutputFile(
        file_pattern=LOG_PATTERN,
        destination=OutputFileDestination(
            container=OutputFileContainer(container_url=container_url, path=f"{prefix}/{task_id}")
        ),
        upload_options=OutputFileUploadOptions(upload_condition="taskCompletion"),
    )


def log_links(container_url: str, prefix: str, task_id: str) -> dict[str, str]:
    """Blob URLs of one task's uploaded logs, without the container URL's query (no SAS in a link)."""
    base = container_url.split("?", 1)[0].rstrip("/")
    return {name: f"{base}/{prefix}/{task_id}/{name}" for name in LOG_FILES}
