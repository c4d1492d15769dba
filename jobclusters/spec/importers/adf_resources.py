"""ADF / Synapse datasets and linked services, as a blob location the app can read.

In a git-connected factory or workspace every resource is one JSON file in its folder (`pipeline/`,
`dataset/`, `linkedService/`), so a pipeline at `<root>/pipeline/p.json` finds dataset `d` at
`<root>/dataset/d.json`. A dataset may also be given inline. `@dataset().x` values are the reference's
parameters over the dataset's declared defaults. Blob and Data Lake Gen2 locations map onto the app's
storage on the embedded default and onto the linked service's account on Azure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jobclusters.spec.model import DatasetRef

BLOB_LOCATIONS = frozenset({"AzureBlobStorageLocation", "AzureBlobFSLocation"})
FORMATS: dict[str, Literal["json", "delimited", "binary"]] = {
    "Json": "json",
    "DelimitedText": "delimited",
    "Binary": "binary",
}
_WHOLE = re.compile(r"^@dataset\(\)\.(\w+)$")
_INTERPOLATED = re.compile(r"@\{dataset\(\)\.(\w+)\}")
# Azure's rule for a container (or Data Lake file system) name, and the service containers
_CONTAINER = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]|\$root|\$web|\$logs")


class DatasetError(ValueError):
    """A dataset or linked service that cannot be read as a blob location; the message says which."""


@dataclass(frozen=True)
class BlobDataset:
    name: str
    container: str
    folder: str
    file: str | None
    format: Literal["json", "delimited", "binary"]
    column_delimiter: str = ","
    quote_char: str = '"'
    first_row_as_header: bool = False
    account_url: str | None = None

    @property
    def path(self) -> str:
        """The blob name (a file) or prefix (a folder), without a leading or trailing slash."""
        parts = [p.strip("/") for p in (self.folder, self.file or "") if p and p.strip("/")]
        return "/".join(parts)


def find_resource(base_dir: str | None, folder: str, name: str) -> dict[str, Any] | None:
    """`<root>/<folder>/<name>.json`, the root being the pipeline's folder or its parent."""
    if not base_dir or "/" in name or "\\" in name or name.startswith("."):
        return None
    here = Path(base_dir)
    for root in (here.parent, here):
        candidate = root / folder / f"{name}.json"
        if candidate.is_file():
            try:
                doc = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DatasetError(f"{folder}/{name}.json cannot be read: {exc}") from exc
            if not isinstance(doc, dict):
                raise DatasetError(f"{folder}/{name}.json is not a JSON object")
            return doc
    return None


def _substitute(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"value", "type"} and value.get("type") == "Expression":
            return _substitute(value["value"], parameters)
        return {k: _substitute(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, parameters) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(name: str) -> Any:
        if name not in parameters:
            raise DatasetError(f"@dataset().{name}: the dataset has no parameter {name!r}")
        return parameters[name]

    whole = _WHOLE.match(value)
    if whole:
        return lookup(whole.group(1))
    return _INTERPOLATED.sub(lambda m: str(lookup(m.group(1))), value)


def _parameters(props: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    declared = props.get("parameters")
    if not isinstance(declared, dict):
        declared = {}
    values = {k: (v.get("defaultValue") if isinstance(v, dict) else None) for k, v in declared.items()}
    values.update(given)
    return values


def linked_account_url(base_dir: str | None, name: str | None) -> str | None:
    """The blob endpoint a linked service names (None: none named, or no URL in it)."""
    if not name:
        return None
    doc = find_resource(base_dir, "linkedService", name)
    if doc is None:
        return None
    props = doc.get("properties", doc)
    tp = props.get("typeProperties") or {}
    for key in ("serviceEndpoint", "url", "sasUri"):
        value = tp.get(key)
        if isinstance(value, str) and value.startswith("https://"):
            return value.split("?")[0].rstrip("/")
    return None


def blob_dataset(ref: DatasetRef, base_dir: str | None) -> BlobDataset:
    doc = ref.inline
    name = ref.name or "inline"
    if doc is None:
        if not ref.name:
            raise DatasetError("the dataset reference names no dataset")
        doc = find_resource(base_dir, "dataset", ref.name)
        if doc is None:
            where = f" (looked for dataset/{ref.name}.json beside the pipeline's folder)" if base_dir else ""
            raise DatasetError(f"no dataset {ref.name!r}{where}")
    props = doc.get("properties", doc)
    kind = props.get("type")
    if kind not in FORMATS:
        raise DatasetError(
            f"dataset {name!r}: type {kind!r} cannot be read here (Json, DelimitedText, Binary)"
        )
    tp = _substitute(props.get("typeProperties") or {}, _parameters(props, ref.parameters))
    location = tp.get("location") or {}
    if location.get("type") not in BLOB_LOCATIONS:
        raise DatasetError(
            f"dataset {name!r}: location {location.get('type')!r} is not a blob or Data Lake Gen2 location"
        )
    container = location.get("container") or location.get("fileSystem")
    if not isinstance(container, str) or not container:
        raise DatasetError(f"dataset {name!r}: the location names no container")
    if not _CONTAINER.fullmatch(container):
        raise DatasetError(
            f"dataset {name!r}: typeProperties.location: {container!r} is not a container name (3 to 63"
            " lowercase letters, digits and single hyphens, from a letter or digit to a letter or digit)"
        )
    linked = props.get("linkedServiceName") or {}
    return BlobDataset(
        name=name,
        container=container,
        folder=str(location.get("folderPath") or ""),
        file=str(location["fileName"]) if location.get("fileName") else None,
        format=FORMATS[kind],
        column_delimiter=str(tp.get("columnDelimiter") or ","),
        quote_char=str(tp.get("quoteChar") or '"'),
        first_row_as_header=bool(tp.get("firstRowAsHeader", False)),
        account_url=linked_account_url(base_dir, linked.get("referenceName")),
    )


def dataset_reference_problems(path: Path, job: Any) -> list[Any]:
    """A warning at each GetMetadata / Lookup dataset reference that the git layout around `path` does not
    hold (the activity would fail when it runs); inline datasets and other layouts are not checked."""
    from jobclusters.spec.model import GetMetadataPayload, LookupPayload
    from jobclusters.spec.problems import Problem

    base_dir = str(path.resolve().parent)
    if not any((root / "dataset").is_dir() for root in (Path(base_dir), Path(base_dir).parent)):
        return []
    found = []
    for task in job.tasks:
        payload = task.payload
        if not isinstance(payload, GetMetadataPayload | LookupPayload) or payload.dataset.name is None:
            continue
        if (
            payload.dataset.inline is None
            and find_resource(base_dir, "dataset", payload.dataset.name) is None
        ):
            found.append(
                Problem(
                    path=f"{task.source_path or '$'}.typeProperties.dataset.referenceName",
                    message=f"no dataset/{payload.dataset.name}.json in this factory's folders",
                    severity="warning",
                    code="unknown-dataset",
                )
            )
    return found
