"""ADF / Synapse activities that start other work or read data, as payloads: ExecutePipeline (a child
run), WebActivity (an HTTP call), GetMetadata and Lookup (a blob dataset's metadata or rows).

`adf.py` hands an activity here when its type is in `DATA_TYPES`; everything else stays there. Datasets
stay references (read from the git layout's `dataset/` folder when the activity runs) unless inline.
"""

from __future__ import annotations

from typing import Any

from jobclusters.spec.model import (
    DatasetRef,
    GetMetadataPayload,
    LookupPayload,
    Payload,
    RunJobPayload,
    WebPayload,
)
from jobclusters.spec.reader import Node

DATA_TYPES = frozenset({"ExecutePipeline", "WebActivity", "GetMetadata", "Lookup"})
METADATA_FIELDS = frozenset({"childItems", "exists", "itemName", "itemType", "size", "lastModified"})
WEB_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")


def _unwrap(value: Any) -> Any:
    from jobclusters.spec.importers.adf import unwrap_expression  # adf.py imports this module

    if isinstance(value, dict) and value.get("type") == "SecureString" and "value" in value:
        return value["value"]
    return unwrap_expression(value)


def read_data_activity(node: Node, kind: str, body: Node | None) -> Payload | None:
    if body is None:
        node.error("typeProperties", f"required: a {kind} activity has typeProperties", "required")
        return None
    reader = {
        "ExecutePipeline": _execute_pipeline,
        "WebActivity": _web,
        "GetMetadata": _get_metadata,
        "Lookup": _lookup,
    }[kind]
    return reader(body)


def _execute_pipeline(body: Node) -> Payload | None:
    pipeline = body.obj("pipeline", required=True)
    if pipeline is None:
        return None
    name = pipeline.string("referenceName", required=True)
    if name is None:
        return None
    parameters = _unwrap(body.map("parameters"))
    return RunJobPayload(
        job_id=name,
        job_parameters=parameters if isinstance(parameters, dict) else {},
        wait_on_completion=body.boolean("waitOnCompletion", default=True),
    )


def _web(body: Node) -> Payload | None:
    from jobclusters.spec.importers.adf import parse_timespan

    url = _unwrap(body.raw("url"))
    if not isinstance(url, str) or not url:
        body.error("url", "required: the URL to call", "required")
        return None
    method = body.choice("method", list(WEB_METHODS), required=True, case_insensitive=True)
    headers: dict[str, str] = {}
    raw_headers = _unwrap(body.raw("headers"))
    if isinstance(raw_headers, dict):
        headers = {str(k): str(_unwrap(v)) for k, v in raw_headers.items()}
    elif isinstance(raw_headers, list):  # the newer designer's [{"name", "value"}]
        headers = {
            str(h.get("name")): str(_unwrap(h.get("value"))) for h in raw_headers if isinstance(h, dict)
        }
    elif raw_headers is not None:
        body.error("headers", "expected an object of header names to values", "type")
    timeout = 60
    text = body.text("httpRequestTimeout")
    if text is not None:
        parsed = parse_timespan(text)
        if parsed is None or not 1 <= parsed <= 600:
            body.error("httpRequestTimeout", f"expected a timespan of 1 s to 10 min, got {text!r}", "range")
        else:
            timeout = parsed
    if body.has("authentication"):
        body.warning("authentication", "WebActivity authentication is not applied; pass a header", "web-auth")
    return WebPayload(
        url=url,
        method=(method or "GET").upper(),  # type: ignore[arg-type]
        headers=headers,
        body=_unwrap(body.raw("body")),
        timeout_seconds=timeout,
    )


def _dataset(body: Node) -> DatasetRef | None:
    ref = body.obj("dataset", required=True)
    if ref is None:
        return None
    if ref.has("properties") or ref.has("typeProperties"):
        return DatasetRef(inline=dict(ref.value), name=ref.string("name"))
    name = ref.string("referenceName", required=True)
    if name is None:
        return None
    parameters = _unwrap(ref.map("parameters"))
    return DatasetRef(name=name, parameters=parameters if isinstance(parameters, dict) else {})


def _get_metadata(body: Node) -> Payload | None:
    dataset = _dataset(body)
    fields: list[str] = []
    for item in body.items("fieldList"):
        value = item.value
        if value not in METADATA_FIELDS:
            item.error(None, f"expected one of {', '.join(sorted(METADATA_FIELDS))}, got {value!r}", "enum")
        else:
            fields.append(str(value))
    if dataset is None:
        return None
    return GetMetadataPayload(dataset=dataset, field_list=fields)


def _lookup(body: Node) -> Payload | None:
    dataset = _dataset(body)
    if dataset is None:
        return None
    return LookupPayload(dataset=dataset, first_row_only=body.boolean("firstRowOnly", default=True))
