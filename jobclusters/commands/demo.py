"""`demo` (what `make demo` runs): the daily-sales pipeline end to end on the embedded default.

1. the seed examples still validate (a one-line summary of the spec's check);
2. the embedded default starts (devhost + Azurite + local Batch + local cluster);
3. `examples/daily-sales/job.yaml` is registered, with its lake under the state folder;
4. sample daily CSVs and the batch's `_READY` manifest are uploaded to `incoming/` in Azurite: the blob
   trigger starts the run (its id derives from the manifest's URL and ETag, so we know which run to watch);
5. the run page's URL in the run monitor, then progress per task, a summary table and where the outputs
   are; exit 1 if the run failed. The embedded default keeps running afterwards so the user can look.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobclusters.client.api import ApiClient, ApiClientError
from jobclusters.client.keys import local_settings
from jobclusters.client.launcher import LOCAL_DEFAULTS, PROJECT_DIR, EmbeddedDefault, LaunchError
from jobclusters.client.progress import exit_code, follow, print_summary, result_json
from jobclusters.commands.run import add_port_arg
from jobclusters.commands.ui import monitor_url

EXAMPLE = PROJECT_DIR / "examples" / "daily-sales"
JOB_ID = "daily-sales"


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser(
        "demo", help="run the daily-sales pipeline end to end on the embedded default"
    )
    cmd.add_argument("--examples", type=Path, default=PROJECT_DIR / "examples", help="examples folder")
    cmd.add_argument("--days", type=int, default=4, help="daily files to generate (Batch tasks)")
    cmd.add_argument("--rows", type=int, default=400, help="orders per daily file")
    cmd.add_argument("--timeout", type=float, default=900.0, help="give up after S seconds")
    cmd.add_argument("--json", action="store_true", help="last line: the run as one JSON object")
    add_port_arg(cmd)
    cmd.set_defaults(func=demo_command)


def seed_check(examples: Path) -> None:
    from jobclusters.cli import run_demo

    buffer = io.StringIO()
    run_demo(argparse.Namespace(examples=examples), out=buffer)
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    verdict = lines[-1].replace(" (listed above)", "") if lines else "nothing checked"
    print(f"[1/5] seed examples: {verdict} (details: python -m jobclusters validate examples/seed/*.json)")


def storage_connection() -> str:
    from jobclusters.services.storage import storage_connection_string
    from jobclusters.settings import Settings

    values = {**LOCAL_DEFAULTS, **local_settings(PROJECT_DIR), **os.environ}
    return storage_connection_string(Settings.from_mapping(values))


def load_job(lake: Path) -> dict[str, Any]:
    from jobclusters.spec.loader import read_document

    document = read_document(EXAMPLE / "job.yaml")
    for parameter in document.get("parameters", []):
        if parameter.get("name") == "lake":
            parameter["default"] = str(lake)
    return dict(document)


def upload_batch(connection: str, batch: str, days: int, rows: int) -> tuple[str, str]:
    """Uploads the CSVs, then the manifest; returns the manifest's (URL, ETag)."""
    import importlib.util

    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    spec = importlib.util.spec_from_file_location(
        "make_sample_data", EXAMPLE / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    service = BlobServiceClient.from_connection_string(connection)
    container = service.get_container_client("incoming")
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = module.generate(folder, days=days, rows=rows)
        for name in manifest["files"]:
            container.upload_blob(f"daily-sales/{batch}/{name}", (folder / name).read_bytes(), overwrite=True)
        ready_blob = container.get_blob_client(f"daily-sales/{batch}/_READY")
        ready = ready_blob.upload_blob((folder / "_READY").read_bytes(), overwrite=True)
        url = ready_blob.url
    return url, str(ready["etag"]).strip('"')


def list_outputs(connection: str, batch: str) -> list[str]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection)
    found = []
    for container in ("staging", "published"):
        client = service.get_container_client(container)
        if client.exists():
            found += [
                f"{container}/{b.name}" for b in client.list_blobs(name_starts_with=f"daily-sales/{batch}/")
            ]
    return found


def demo_command(args: argparse.Namespace) -> int:
    from jobclusters.run_request import derive_run_id

    started = time.monotonic()
    seed_check(args.examples)
    print(
        "[2/5] starting the embedded default (devhost + Azurite + local Batch + local cluster)...", flush=True
    )
    try:
        host = EmbeddedDefault(port=args.port)
        endpoint = host.ensure()
    except LaunchError as exc:
        print(f"cannot start the embedded default: {exc}", file=sys.stderr)
        return 1
    client = ApiClient(endpoint.base_url, endpoint.key)
    print(f"      API at {endpoint.base_url}/api (pid {endpoint.pid}); state in {host.state_dir}")
    try:
        registered = client.register_job(
            load_job(host.state_dir / "lake"), job_id=JOB_ID, base_dir=str(EXAMPLE)
        )
    except ApiClientError as exc:
        print(f"registration refused: {exc.message}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem.get('path')}: {problem.get('message')}", file=sys.stderr)
        return 1
    print(
        f"[3/5] registered job {registered['job_id']} (version {registered['version']}): "
        f"{' -> '.join(registered['task_keys'])}"
    )
    batch = "batch-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    connection = storage_connection()
    url, etag = upload_batch(connection, batch, args.days, args.rows)
    run_id = derive_run_id(JOB_ID, url, etag)
    print(
        f"[4/5] uploaded {args.days} daily files + _READY to incoming/daily-sales/{batch}/; "
        f"the Event Grid trigger starts run {run_id}",
        flush=True,
    )
    page = monitor_url(endpoint.base_url, endpoint.key, run_id)
    print(f"      watch it in the run monitor: {page}", flush=True)
    print("[5/5] progress:", flush=True)
    try:
        view = follow(client, run_id, sys.stdout, timeout=args.timeout)
    except (TimeoutError, ApiClientError) as exc:
        print(f"the run did not finish: {exc}", file=sys.stderr)
        print(host.log_tail(), file=sys.stderr)
        return 1
    print()
    print_summary(view, sys.stdout)
    outputs = list_outputs(connection, batch)
    print(f"outputs in blob storage ({len(outputs)}):")
    for name in outputs:
        print(f"  {name}")
    print(f"run record: Table storage (tracking), `python -m jobclusters status {run_id}`")
    print(f"demo finished in {time.monotonic() - started:.0f} s")
    print(f"the embedded default keeps running so you can look: run monitor at {page}")
    print("stop it with `python -m jobclusters stop`")
    if args.json:
        import json

        print(json.dumps(result_json(view)))
    return exit_code(view)
