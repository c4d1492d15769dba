"""Registration-time check that a job's blob rules name containers the storage account has.

Validation of the definition itself cannot know the account; this reads the container list once per
registration of a job with rules and adds `unknown-container` warnings (a rule on a missing container is
accepted, since the container may be created later, but until then it never fires).
"""

from __future__ import annotations

import logging

from jobclusters.services.storage import StorageAccount
from jobclusters.spec import Job
from jobclusters.spec.problems import Problem, Problems
from jobclusters.spec.validation import check_trigger_containers

log = logging.getLogger("jobclusters.triggers.blob_containers")


async def unknown_container_warnings(job: Job, account: StorageAccount, *, format: str) -> list[Problem]:
    if not job.triggers:
        return []
    try:
        async with account.blob_service_aio() as service:
            existing = {container.name async for container in service.list_containers()}
    except Exception as exc:  # the check is advice; registration must not fail on it
        log.warning("could not list the storage account's containers: %s", exc)
        return []
    problems = Problems()
    check_trigger_containers(job, existing, problems, format=format)
    return problems.warnings
