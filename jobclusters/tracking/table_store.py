"""RunStore on Azure Table storage (Azurite locally), with keys designed for the questions users ask.

Tables (names prefixed with the app's table prefix):
- `<p>Runs`: one partition per run: the run row (`RowKey = "run"`) and its task runs
  (`RowKey = "task|<task key>|<generation>|<attempt>"`), so a run with all its task runs is one partition
  query and task runs of one run can be written in batch transactions. A repair is the run's next
  generation: its task runs are new rows beside the earlier generations' (history is never rewritten),
  and it moves the run row (and its index rows) forward without changing when or how the run was created.
- `<p>RunIndex`: summaries under `PartitionKey = "job|<job id>"` (newest runs of a job first: the row key
  starts with an inverted timestamp) and `PartitionKey = "day|<yyyymmdd>"` (runs by time range, filtered
  by state), both paged with continuation tokens.

Every write reads the row, checks that the new state advances (see `models.advances`) and replaces the
row only if its ETag is unchanged, retrying on a conflict; stale writes are dropped, never applied.
Values too large for a property (64 KiB) or an entity (1 MiB) go to blob storage and the row keeps the
blob name. Secure inputs/outputs and secret-looking values are redacted before anything is written.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from pydantic import BaseModel

from jobclusters.services.storage import StorageAccount, storage_account
from jobclusters.settings import Settings
from jobclusters.tracking.keys import day, escape_key, inverted
from jobclusters.tracking.models import (
    Page,
    RunRecord,
    RunState,
    RunSummary,
    TaskRunRecord,
    advances,
)
from jobclusters.tracking.redact import redact
from jobclusters.tracking.store import WriteResult
from jobclusters.tracking.table_batch import TransactionConflict, submit_transaction

MAX_BATCH_ENTITIES = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024 - 256 * 1024  # headroom for the multipart envelope
MAX_PROPERTY_CHARS = 30_000  # 64 KiB per string property, stored as UTF-16
MAX_ENTITY_BYTES = 900_000  # 1 MiB per entity, with headroom for names and types
_WRITE_ATTEMPTS = 12
# Characters of a run's error kept in its index rows (enough for a listing; the run row has it all).
INDEX_ERROR_CHARS = 1000
# Transactions of one call touch disjoint rows, so a few can be in flight while the service applies
# the previous ones.
_PARALLEL_TRANSACTIONS = 4
# A Table filter takes at most 15 comparisons: the partition's and 14 RowKeys. Past a few such queries,
# one scan of the run's task rows is cheaper.
_KEYS_PER_QUERY = 14
_NAMED_QUERIES = 4
_BLOB_SUFFIX = "__blob"
_JSON_FIELDS = "JsonFields"
_M = TypeVar("_M", bound=BaseModel)


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _encode_token(token: Any) -> str | None:
    if token is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


_FOREIGN_TOKEN = "continuation token is not one this store issued"


def _decode_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise ValueError(_FOREIGN_TOKEN) from None


def _table_position(value: Any) -> dict[str, str] | None:
    """A Table service continuation (`{PartitionKey, RowKey}`); anything else would silently restart or
    end the listing, so it is refused."""
    if value is None:
        return None
    keys_ok = isinstance(value, dict) and set(value) == {"PartitionKey", "RowKey"}
    if keys_ok and all(isinstance(v, str) for v in value.values()):
        return value
    raise ValueError(_FOREIGN_TOKEN)


def _day_position(value: Any) -> dict[str, Any] | None:
    """Where a listing by time stopped: the day partition and the Table continuation inside it."""
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"day", "tk"} and isinstance(value["day"], str):
        try:
            datetime.strptime(value["day"], "%Y%m%d")
        except ValueError:
            raise ValueError(_FOREIGN_TOKEN) from None
        return {"day": value["day"], "tk": _table_position(value["tk"])}
    raise ValueError(_FOREIGN_TOKEN)


def _first_page(paged: Any, token: Any) -> tuple[list[Any], Any]:
    """One page of a query and the service's continuation token for the next one."""
    pager: Any = paged.by_page(continuation_token=token)
    items = list(next(pager, []))
    return items, pager.continuation_token


def _entity_size(entity: dict[str, Any]) -> int:
    return sum(len(k) * 2 + (len(v.encode()) if isinstance(v, str) else 16) for k, v in entity.items())


class TableRunStore:
    def __init__(self, account: StorageAccount | str, *, table_prefix: str = "jobclusters") -> None:
        prefix = re.sub(r"[^A-Za-z0-9]", "", table_prefix) or "jobclusters"
        if not prefix[0].isalpha():
            prefix = "t" + prefix
        account = storage_account(account)
        self._tables = account.table_service()
        self._runs = self._tables.create_table_if_not_exists(f"{prefix}Runs")
        self._index = self._tables.create_table_if_not_exists(f"{prefix}RunIndex")
        self._blobs = account.blob_service()
        self._overflow = self._blobs.get_container_client(f"{prefix.lower()[:50]}-overflow")
        self._overflow_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> TableRunStore:
        return cls(StorageAccount.from_settings(settings), table_prefix=settings.table_prefix)

    # -- codec -----------------------------------------------------------------------------------------
    def _offload(self, entity: dict[str, Any], name: str) -> None:
        if not self._overflow_ready:
            with contextlib.suppress(ResourceExistsError):
                self._overflow.create_container()
            self._overflow_ready = True
        blob = f"{entity['PartitionKey']}/{entity['RowKey']}/{name}".replace("|", "_")
        self._overflow.upload_blob(blob, entity.pop(name).encode(), overwrite=True)
        entity[name + _BLOB_SUFFIX] = blob

    def _encode(
        self, model: BaseModel, pk: str, rk: str, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": pk, "RowKey": rk}
        json_fields = []
        for name, value in model.model_dump(mode="python", exclude_none=True, exclude_defaults=True).items():
            key = _pascal(name)
            if isinstance(value, (dict, list)):
                value = json.dumps(value, default=str, separators=(",", ":"))
                json_fields.append(key)
            elif isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            elif hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
                value = value.value
            entity[key] = value
        entity[_JSON_FIELDS] = ",".join(json_fields)
        entity.update(extra or {})
        for key in [k for k, v in entity.items() if isinstance(v, str) and len(v) > MAX_PROPERTY_CHARS]:
            self._offload(entity, key)
        while _entity_size(entity) > MAX_ENTITY_BYTES:
            largest = max(
                (k for k, v in entity.items() if isinstance(v, str) and k not in ("PartitionKey", "RowKey")),
                key=lambda k: len(entity[k]),
            )
            self._offload(entity, largest)
        return entity

    def _decode(self, model: type[_M], entity: dict[str, Any]) -> _M:
        data: dict[str, Any] = dict(entity)
        for key in [k for k in data if k.endswith(_BLOB_SUFFIX)]:
            name = key[: -len(_BLOB_SUFFIX)]
            data[name] = self._overflow.download_blob(data.pop(key)).readall().decode()
        json_fields = set(filter(None, str(data.pop(_JSON_FIELDS, "")).split(",")))
        fields = model.model_fields
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = _snake(key)
            if name not in fields:
                continue
            out[name] = json.loads(value) if key in json_fields else value
        return model.model_validate(out)

    # -- guarded writes ----------------------------------------------------------------------------------
    def _forward_write(
        self,
        table: Any,
        entity: dict[str, Any],
        generation: int,
        state: RunState,
        merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
    ) -> WriteResult:
        for _ in range(_WRITE_ATTEMPTS):
            try:
                current = table.get_entity(entity["PartitionKey"], entity["RowKey"])
            except ResourceNotFoundError:
                try:
                    table.create_entity(entity)
                    return WriteResult(applied=True, state=state)
                except ResourceExistsError:
                    continue
            old_state = RunState(current["State"])
            if not advances(generation, state, int(current.get("Generation", 0)), old_state):
                return WriteResult(applied=False, state=old_state)
            new = merge(dict(current), entity) if merge is not None else entity
            try:
                table.update_entity(
                    new,
                    mode=UpdateMode.REPLACE,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return WriteResult(applied=True, state=state)
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            except HttpResponseError as exc:
                if exc.status_code != 412:
                    raise
        raise RuntimeError(f"could not write {entity['PartitionKey']}/{entity['RowKey']}: too many conflicts")

    @staticmethod
    def _keep_from_existing(*names: str) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
        def merge(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
            merged = dict(new)
            for name in names:
                if name not in merged and name in current:
                    merged[name] = current[name]
            return merged

        return merge

    # -- runs --------------------------------------------------------------------------------------------
    @staticmethod
    def _safe_run(record: RunRecord) -> RunRecord:
        return record.model_copy(
            update={
                "parameters": redact(record.parameters, secure=record.secure_input),
                "error_message": redact(record.error_message),
            }
        )

    @staticmethod
    def _keep_origin(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """A run is created and triggered once: a repair writing the run row keeps both, so the run keeps
        its index rows (keyed by creation time) and is listed once."""
        merged = TableRunStore._keep_from_existing("StartTime", "EstimatedCost", "CostCurrency")(current, new)
        for name in ("CreatedAt", "Trigger"):
            if name in current and name in merged:
                merged[name] = current[name]
        return merged

    def record_run(self, record: RunRecord) -> WriteResult:
        record = self._safe_run(record)
        entity = self._encode(record, escape_key(record.run_id), "run")
        result = self._forward_write(self._runs, entity, record.generation, record.state, self._keep_origin)
        if result.applied:
            stored = self.get_run(record.run_id)
            if stored is not None:
                self._write_index(stored)
        return result

    def _write_index(self, run: RunRecord) -> None:
        summary = RunSummary(
            run_id=run.run_id,
            job_id=run.job_id,
            state=run.state,
            created_at=run.created_at,
            start_time=run.start_time,
            end_time=run.end_time,
            trigger_kind=run.trigger.kind if run.trigger else None,
            error_message=(run.error_message or "")[:INDEX_ERROR_CHARS] or None,
            repair_count=run.generation,
            estimated_cost=run.estimated_cost,
            cost_currency=run.cost_currency,
            cost_by_compute=run.cost.by_compute if run.cost else {},
            tags=run.tags,
        )
        rk = f"{inverted(run.created_at)}|{escape_key(run.run_id)}"
        extra = {"Generation": run.generation}
        for pk in (f"job|{escape_key(run.job_id)}", f"day|{day(run.created_at)}"):
            self._forward_write(self._index, self._encode(summary, pk, rk, extra), run.generation, run.state)

    def get_run(self, run_id: str) -> RunRecord | None:
        try:
            return self._decode(RunRecord, self._runs.get_entity(escape_key(run_id), "run"))
        except ResourceNotFoundError:
            return None

    # -- task runs -----------------------------------------------------------------------------------------
    @staticmethod
    def _task_rk(record: TaskRunRecord) -> str:
        return f"task|{escape_key(record.task_key)}|{record.generation:05d}|{record.attempt:05d}"

    def _task_entity(self, record: TaskRunRecord) -> dict[str, Any]:
        safe = record.model_copy(
            update={
                "parameters": redact(record.parameters, secure=record.secure_input),
                "output": redact(record.output, secure=record.secure_output),
                "error_message": redact(record.error_message),
            }
        )
        return self._encode(safe, escape_key(record.run_id), self._task_rk(record))

    def record_task_run(self, record: TaskRunRecord) -> WriteResult:
        return self._forward_write(
            self._runs,
            self._task_entity(record),
            record.generation,
            record.state,
            self._keep_from_existing("StartTime"),
        )

    def _task_rows(self, pk: str, rks: set[str], select: list[str] | None = None) -> Iterator[Any]:
        """The task rows of a run with these RowKeys. A few are named in the filter, so the service picks
        them out: scanning the partition instead made every row written to a for_each of 10,000 read up
        to 10,000 rows. Many are read by a scan of the partition's task rows."""
        wanted = sorted(rks)
        if len(wanted) > _KEYS_PER_QUERY * _NAMED_QUERIES:
            rows = self._runs.query_entities(
                "PartitionKey eq @pk and RowKey ge 'task|' and RowKey lt 'task}'",
                parameters={"pk": pk},
                select=select,
            )
            yield from (row for row in rows if row["RowKey"] in rks)
            return
        for start in range(0, len(wanted), _KEYS_PER_QUERY):
            named = wanted[start : start + _KEYS_PER_QUERY]
            keys = " or ".join(f"RowKey eq @k{i}" for i in range(len(named)))
            yield from self._runs.query_entities(
                f"PartitionKey eq @pk and ( {keys} )",  # the SDK substitutes words split at spaces
                parameters={"pk": pk, **{f"k{i}": rk for i, rk in enumerate(named)}},
                select=select,
            )

    def get_task_runs(self, run_id: str, records: Sequence[TaskRunRecord]) -> list[TaskRunRecord]:
        """The stored rows of these task runs (same run, task, generation and attempt), as read now."""
        pk = escape_key(run_id)
        rows = self._task_rows(pk, {self._task_rk(r) for r in records})
        return [self._decode(TaskRunRecord, e) for e in rows]

    def _existing_tasks(self, pk: str, rks: set[str]) -> dict[str, dict[str, Any]]:
        """State, generation and ETag of the task rows of a run that this write touches."""
        found: dict[str, dict[str, Any]] = {}
        rows = self._task_rows(pk, rks, select=["RowKey", "State", "Generation", "StartTime"])
        for row in rows:
            if row["RowKey"] in rks:
                found[row["RowKey"]] = {
                    "State": row["State"],
                    "Generation": row.get("Generation", 0),
                    "StartTime": row.get("StartTime"),
                    "etag": row.metadata["etag"],
                }
        return found

    def record_task_runs(self, run_id: str, records: Sequence[TaskRunRecord]) -> int:
        """Write many task runs of one run in batch transactions (<= 100 entities, < 4 MB each).

        Rows that already hold a later state are skipped; a transaction that loses a race (an ETag
        changed or a row appeared) is re-planned from fresh reads and resent. Returns the rows written.
        """
        pk = escape_key(run_id)
        latest: dict[str, TaskRunRecord] = {}
        for record in records:
            if record.run_id != run_id:
                raise ValueError(
                    f"task run {record.task_key!r} belongs to run {record.run_id!r}, not {run_id!r}"
                )
            rk = self._task_rk(record)
            prior = latest.get(rk)
            if prior is None or advances(record.generation, record.state, prior.generation, prior.state):
                latest[rk] = record
        entities = {rk: self._task_entity(r) for rk, r in latest.items()}
        pending = set(entities)
        written = 0
        for _ in range(_WRITE_ATTEMPTS):
            if not pending:
                break
            existing = self._existing_tasks(pk, pending)
            operations: list[tuple[str, tuple[Any, ...]]] = []
            for rk in sorted(pending):
                entity, record = entities[rk], latest[rk]
                old = existing.get(rk)
                if old is None:
                    operations.append((rk, ("create", entity, {})))
                elif advances(
                    record.generation, record.state, int(old["Generation"]), RunState(old["State"])
                ):
                    merged = dict(entity)
                    if "StartTime" not in merged and old["StartTime"] is not None:
                        merged["StartTime"] = old["StartTime"]
                    operations.append((rk, ("replace", merged, {"etag": old["etag"]})))
                else:
                    pending.discard(rk)
            chunks = list(self._transaction_chunks(operations))
            with ThreadPoolExecutor(max_workers=min(_PARALLEL_TRANSACTIONS, max(1, len(chunks)))) as pool:
                outcomes = list(pool.map(self._submit, chunks))
            for chunk, ok in zip(chunks, outcomes, strict=True):
                if ok:
                    written += len(chunk)
                    pending.difference_update(rk for rk, _ in chunk)
        if pending:
            raise RuntimeError(f"could not write {len(pending)} task run(s) of {run_id}: too many conflicts")
        return written

    def _submit(self, chunk: list[tuple[str, tuple[Any, ...]]]) -> bool:
        """One transaction; False when it lost a race (it is all-or-nothing, so it can be re-planned)."""
        try:
            submit_transaction(self._runs, [op for _, op in chunk])
        except TransactionConflict:
            return False
        return True

    @staticmethod
    def _transaction_chunks(
        operations: list[tuple[str, tuple[Any, ...]]],
    ) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
        chunk: list[tuple[str, tuple[Any, ...]]] = []
        size = 0
        for item in operations:
            item_size = _entity_size(item[1][1]) + 512
            if chunk and (len(chunk) >= MAX_BATCH_ENTITIES or size + item_size > MAX_BATCH_BYTES):
                yield chunk
                chunk, size = [], 0
            chunk.append(item)
            size += item_size
        if chunk:
            yield chunk

    def get_run_with_tasks(self, run_id: str) -> tuple[RunRecord | None, list[TaskRunRecord]]:
        run: RunRecord | None = None
        tasks: list[TaskRunRecord] = []
        for entity in self._runs.query_entities("PartitionKey eq @pk", parameters={"pk": escape_key(run_id)}):
            if entity["RowKey"] == "run":
                run = self._decode(RunRecord, entity)
            else:
                tasks.append(self._decode(TaskRunRecord, entity))
        return run, tasks

    # -- listing -------------------------------------------------------------------------------------------
    def list_runs_for_job(
        self, job_id: str, *, page_size: int = 50, token: str | None = None
    ) -> Page[RunSummary]:
        rows, next_token = _first_page(
            self._index.query_entities(
                "PartitionKey eq @pk",
                parameters={"pk": f"job|{escape_key(job_id)}"},
                results_per_page=page_size,
            ),
            _table_position(_decode_token(token)),
        )
        items = [self._decode(RunSummary, e) for e in rows]
        return Page[RunSummary](items=items, continuation_token=_encode_token(next_token))

    def list_runs(
        self,
        *,
        since: datetime,
        until: datetime,
        states: Sequence[RunState] | None = None,
        page_size: int = 50,
        token: str | None = None,
    ) -> Page[RunSummary]:
        """Runs created in [since, until], newest first, optionally only in the given states."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        position = _day_position(_decode_token(token)) or {"day": day(until), "tk": None}
        current = datetime.strptime(position["day"], "%Y%m%d").replace(tzinfo=UTC)
        table_token = position["tk"]
        first_day = datetime.strptime(day(since), "%Y%m%d").replace(tzinfo=UTC)
        parameters: dict[str, Any] = {"lo": inverted(until), "hi": inverted(since) + "|~"}
        state_filter = ""
        if states:
            names = [f"@s{i}" for i in range(len(states))]
            parameters.update({f"s{i}": RunState(s).value for i, s in enumerate(states)})
            state_filter = " and ( " + " or ".join(f"State eq {n}" for n in names) + " )"
        items: list[RunSummary] = []
        while current >= first_day and len(items) < page_size:
            parameters["pk"] = f"day|{current.strftime('%Y%m%d')}"
            rows, table_token = _first_page(
                self._index.query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi" + state_filter,
                    parameters=parameters,
                    results_per_page=page_size - len(items),
                ),
                table_token,
            )
            items.extend(self._decode(RunSummary, e) for e in rows)
            if table_token is None:
                current -= timedelta(days=1)
        more = current >= first_day
        next_token = _encode_token({"day": current.strftime("%Y%m%d"), "tk": table_token}) if more else None
        return Page[RunSummary](items=items, continuation_token=next_token)
