"""What WebActivity, GetMetadata and Lookup produce: their output as ADF shapes it, which later activities
read as `@activity('x').output...` (it is the task's `task_values`).

- WebActivity: the JSON answer (an object as is; any other answer as `{"Response": ...}`).
- GetMetadata: the asked `fieldList` of a blob file or folder (`childItems` of a folder lists its direct
  files and folders; `exists` is the only field of a missing item, and without it a missing item fails).
- Lookup: `{"firstRow": row}` (`firstRowOnly`, the default), else `{"count": n, "value": rows}`; rows of a
  JSON (object, array or JSON lines) or delimited-text file, or of every file in a folder. Headerless
  delimited columns are named `Prop_0`, `Prop_1`, ... as ADF names them. At most 5000 rows, as in ADF.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobclusters.execution.batch_mapping import environment_settings
from jobclusters.execution.secret_masking import MIN_MASKED, mask_text
from jobclusters.services.batch import BatchSpecError, resolve_environment
from jobclusters.services.blob_datasets import BlobDatasetReader, BlobItem, BlobTooLarge
from jobclusters.services.web_call import WebCallError, call
from jobclusters.spec.importers.adf_resources import BlobDataset, DatasetError, blob_dataset
from jobclusters.spec.model import GetMetadataPayload, LookupPayload, Task, TaskState, WebPayload

MAX_LOOKUP_ROWS = 5000

Readers = Callable[[str | None], BlobDatasetReader]


class DataActivityError(ValueError):
    pass


@dataclass(frozen=True)
class DataResult:
    state: TaskState
    output: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


def run_data_activity(task: Task, base_dir: str | None, readers: Readers, web: Any = call) -> DataResult:
    payload = task.payload
    try:
        if isinstance(payload, WebPayload):
            output = web_output(payload, web)
        elif isinstance(payload, GetMetadataPayload):
            dataset = blob_dataset(payload.dataset, base_dir)
            output = get_metadata(dataset, payload.field_list, readers(dataset.account_url))
        elif isinstance(payload, LookupPayload):
            dataset = blob_dataset(payload.dataset, base_dir)
            output = lookup(dataset, payload.first_row_only, readers(dataset.account_url))
        else:
            raise DataActivityError(f"task {task.key!r} is not a data activity")
    except (DataActivityError, DatasetError, WebCallError, BlobTooLarge) as exc:
        return DataResult(TaskState.FAILED, message=str(exc))
    return DataResult(TaskState.SUCCESS, output=output)


def header_values(headers: dict[str, str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers as sent: a `%APP_SETTING%` value (how a definition names a key or token) is read from the
    app settings, as a task's secret environment is."""
    settings = environment_settings(headers)
    try:
        pairs = resolve_environment(settings, os.environ if env is None else env)
    except BatchSpecError as exc:
        missing = [s.secret_ref for s in settings if s.secret_ref and s.secret_ref not in (env or os.environ)]
        raise DataActivityError(f"a header names app setting {missing[0]!r}, which is not defined") from exc
    return {p["name"]: p["value"] for p in pairs}


def web_output(payload: WebPayload, web: Any = call, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    headers = header_values(payload.headers, env)
    secrets = [v for k, v in headers.items() if v != payload.headers.get(k) and len(v) >= MIN_MASKED]
    try:
        answer = web(payload.method, payload.url, headers, payload.body, payload.timeout_seconds)
    except WebCallError as exc:
        raise WebCallError(mask_text(str(exc), secrets)) from None
    return answer.body if isinstance(answer.body, dict) else {"Response": answer.body}


def _iso(item: BlobItem) -> str | None:
    return item.last_modified.isoformat() if item.last_modified else None


def get_metadata(ds: BlobDataset, fields: list[str], reader: BlobDatasetReader) -> dict[str, Any]:
    where = f"{ds.container}/{ds.path}".rstrip("/")
    if ds.file is not None:
        item = reader.file(ds.container, ds.path)
        children: list[BlobItem] = []
        exists = item is not None
    else:
        item = None
        children = reader.children(ds.container, ds.path)
        exists = bool(children)
    if not exists:
        if "exists" in fields:
            return {"exists": False}
        raise DataActivityError(f"GetMetadata: {where} does not exist (add 'exists' to fieldList to test it)")
    name = item.name if item is not None else (ds.path.rsplit("/", 1)[-1] if ds.path else ds.container)
    values: dict[str, Any] = {
        "exists": True,
        "itemName": name,
        "itemType": "File" if item is not None else "Folder",
    }
    if item is not None:
        values["size"] = item.size
        values["lastModified"] = _iso(item)
    else:
        stamps = [c.last_modified for c in children if c.last_modified is not None]
        values["lastModified"] = max(stamps).isoformat() if stamps else None
        values["childItems"] = [{"name": c.name, "type": c.kind} for c in children]
    unknown = [f for f in fields if f not in values]
    if unknown:
        raise DataActivityError(f"GetMetadata: {', '.join(unknown)} is not available for {where}")
    return {f: values[f] for f in fields}


def parse_rows(text: str, ds: BlobDataset) -> list[dict[str, Any]]:
    if ds.format == "json":
        stripped = text.strip()
        if not stripped:
            return []
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            try:
                value = [json.loads(line) for line in stripped.splitlines() if line.strip()]
            except json.JSONDecodeError as exc:
                raise DataActivityError(f"Lookup: {ds.name} is not JSON or JSON lines: {exc.msg}") from exc
        rows = value if isinstance(value, list) else [value]
        if not all(isinstance(r, dict) for r in rows):
            raise DataActivityError(f"Lookup: {ds.name} holds values that are not JSON objects")
        return rows
    if ds.format == "delimited":
        reader = csv.reader(
            io.StringIO(text), delimiter=ds.column_delimiter[:1] or ",", quotechar=ds.quote_char[:1] or '"'
        )
        lines = [line for line in reader if line]
        if ds.first_row_as_header:
            if not lines:
                return []
            header, lines = lines[0], lines[1:]
        else:
            width = max((len(line) for line in lines), default=0)
            header = [f"Prop_{i}" for i in range(width)]
        return [dict(zip(header, line, strict=False)) for line in lines]
    raise DataActivityError(f"Lookup: {ds.name} is a Binary dataset: it has no rows")


def lookup(ds: BlobDataset, first_row_only: bool, reader: BlobDatasetReader) -> dict[str, Any]:
    names = [ds.path] if ds.file is not None else reader.files_under(ds.container, ds.path)
    rows: list[dict[str, Any]] = []
    for name in names:
        if ds.file is not None and reader.file(ds.container, name) is None:
            raise DataActivityError(f"Lookup: {ds.container}/{name} does not exist")
        rows.extend(parse_rows(reader.read_text(ds.container, name), ds))
        if first_row_only and rows:
            return {"firstRow": rows[0]}
        if len(rows) > MAX_LOOKUP_ROWS:
            raise DataActivityError(
                f"Lookup: more than {MAX_LOOKUP_ROWS} rows; ADF's Lookup returns at most that"
            )
    if first_row_only:
        return {}
    return {"count": len(rows), "value": rows}
