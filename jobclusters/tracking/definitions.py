"""Registered job definitions: a Table row per job (what listing, the scheduler and the blob trigger read)
and the full document in a blob (a definition can outgrow a Table property's 64 KiB).

Tracking (`jobclusters.tracking`) records runs; registered definitions live here, on the same storage
account. The blob is written before the row, so a row never points at a missing document.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from jobclusters.services.storage import StorageAccount, storage_account
from jobclusters.spec import Job
from jobclusters.spec.model import Schedule, Trigger

JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PARTITION = "job"
_TRIGGERS = TypeAdapter(list[Trigger])


def job_id_problem(job_id: str) -> str | None:
    if JOB_ID_PATTERN.fullmatch(job_id):
        return None
    return "expected 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def job_id_from_name(name: str) -> str:
    """A readable default id: the job name in lower case with runs of other characters as '-'."""
    slug = re.sub(r"[^a-z0-9_.]+", "-", name.lower()).strip("-.")
    return (slug or "job")[:64]


class JobSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    name: str
    format: str
    base_dir: str | None = None
    registered_at: str
    updated_at: str
    version: int = 1
    schedule: Schedule | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    task_keys: list[str] = Field(default_factory=list)


class JobDefinition(JobSummary):
    job: Job
    source: dict[str, Any]


class JobDefinitionStore(Protocol):
    async def put(
        self, job_id: str, job: Job, source: Mapping[str, Any], *, format: str, base_dir: str | None
    ) -> JobSummary: ...

    async def get(self, job_id: str) -> JobDefinition | None: ...

    async def list(self) -> list[JobSummary]: ...

    async def delete(self, job_id: str) -> bool: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class TableJobDefinitionStore:
    def __init__(self, account: StorageAccount | str, table_prefix: str = "jobclusters") -> None:
        self._account = storage_account(account)
        self.table_name = re.sub(r"[^A-Za-z0-9]", "", table_prefix) + "jobdefs"
        self.container = re.sub(r"[^a-z0-9-]", "", table_prefix.lower()) + "-definitions"

    def _tables(self) -> AbstractAsyncContextManager[TableServiceClient]:
        return self._account.table_service_aio()

    def _blobs(self) -> AbstractAsyncContextManager[BlobServiceClient]:
        return self._account.blob_service_aio()

    @staticmethod
    def _summary(row: Mapping[str, Any]) -> JobSummary:
        schedule = json.loads(row["schedule"]) if row.get("schedule") else None
        return JobSummary(
            job_id=row["RowKey"],
            name=row["name"],
            format=row["format"],
            base_dir=row.get("base_dir") or None,
            registered_at=row["registered_at"],
            updated_at=row["updated_at"],
            version=int(row.get("version", 1)),
            schedule=Schedule.model_validate(schedule) if schedule else None,
            triggers=_TRIGGERS.validate_python(json.loads(row.get("triggers") or "[]")),
            task_keys=json.loads(row.get("task_keys") or "[]"),
        )

    async def _row(self, job_id: str) -> dict[str, Any] | None:
        async with self._tables() as service:
            table = service.get_table_client(self.table_name)
            try:
                return dict(await table.get_entity(_PARTITION, job_id))
            except ResourceNotFoundError:
                return None

    async def put(
        self, job_id: str, job: Job, source: Mapping[str, Any], *, format: str, base_dir: str | None
    ) -> JobSummary:
        previous = await self._row(job_id)
        now = _now()
        document = json.dumps({"job": job.model_dump(mode="json"), "source": dict(source)})
        async with self._blobs() as blobs:
            container = blobs.get_container_client(self.container)
            with contextlib.suppress(ResourceExistsError):
                await container.create_container()
            await container.upload_blob(f"{job_id}.json", document.encode(), overwrite=True)
        row = {
            "PartitionKey": _PARTITION,
            "RowKey": job_id,
            "name": job.name,
            "format": format,
            "base_dir": base_dir or "",
            "registered_at": previous["registered_at"] if previous else now,
            "updated_at": now,
            "version": int(previous.get("version", 0)) + 1 if previous else 1,
            "schedule": job.schedule.model_dump_json() if job.schedule else "",
            "triggers": json.dumps([t.model_dump(mode="json") for t in job.triggers]),
            "task_keys": json.dumps([t.key for t in job.tasks]),
        }
        async with self._tables() as service:
            table = await service.create_table_if_not_exists(self.table_name)
            await table.upsert_entity(row, mode=UpdateMode.REPLACE)
        return self._summary(row)

    async def get(self, job_id: str) -> JobDefinition | None:
        row = await self._row(job_id)
        if row is None:
            return None
        async with self._blobs() as blobs:
            try:
                stream = await blobs.get_blob_client(self.container, f"{job_id}.json").download_blob()
                document = json.loads(await stream.readall())
            except ResourceNotFoundError:
                return None
        summary = self._summary(row)
        return JobDefinition(
            **summary.model_dump(), job=Job.model_validate(document["job"]), source=document["source"]
        )

    async def list(self) -> list[JobSummary]:
        async with self._tables() as service:
            table = service.get_table_client(self.table_name)
            try:
                rows = [dict(r) async for r in table.query_entities(f"PartitionKey eq '{_PARTITION}'")]
            except ResourceNotFoundError:
                return []
        return sorted((self._summary(r) for r in rows), key=lambda s: s.job_id)

    async def delete(self, job_id: str) -> bool:
        if await self._row(job_id) is None:
            return False
        async with self._tables() as service:
            await service.get_table_client(self.table_name).delete_entity(_PARTITION, job_id)
        async with self._blobs() as blobs:
            with contextlib.suppress(ResourceNotFoundError):
                await blobs.get_blob_client(self.container, f"{job_id}.json").delete_blob()
        return True
