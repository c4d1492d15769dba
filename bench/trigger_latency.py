"""Event-trigger latency on devhost: from the moment an event is produced to the moment the function starts.

Runs against a private in-memory Azurite on free ports, the devhost listeners with their default tuning, and
functions that record when they start. Measured side by side in one run:
- blob: uploads with random names into a small container (found by the rotating sweep), then into a
  container that also holds 2,000 untouched blobs, once with names sorting after them (dated or numbered
  names, found by the tail probe) and once with names sorting before them (found only by the sweep, whose
  pace adapts to the listing cost; each such upload follows the previous detection, so it waits a whole
  sweep: the worst case);
- Event Grid intake (devhost's system-topic stand-in, `eventgrid.config.json` style subscription) over
  three containers, next to the polling blob trigger's small container in the same phase;
- queue (Azurite) and Service Bus (local transport, sent from this process and from another process);
- Azurite's CPU use while the listener watches the 2,000-blob container with nothing changing.
Phase 1 runs the small-container, Event Grid, queue and Service Bus listeners alone; phase 2 runs the
big-container listener next to the small-container one, to show what a big sweep costs the other listings on
the same (single-threaded) Azurite. The clock starts before the upload / send call.
Last line: one JSON object.

    .venv/bin/python bench/trigger_latency.py [--samples N] [--untouched N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import azure.functions as func  # noqa: E402
from azure.storage.blob import BlobServiceClient  # noqa: E402
from azure.storage.blob.aio import BlobServiceClient as AsyncBlobServiceClient  # noqa: E402
from azure.storage.queue.aio import QueueClient  # noqa: E402

from devhost.azurite import start_azurite  # noqa: E402
from devhost.listeners import HostServices, TriggerListener  # noqa: E402
from devhost.triggers import build_listeners  # noqa: E402
from devhost.triggers.options import QueuesOptions  # noqa: E402
from devhost.triggers.outputs import encode_queue_message  # noqa: E402
from localbus import LocalServiceBus  # noqa: E402

STARTED: dict[str, float] = {}  # event key -> time.time() when the function started

app = func.FunctionApp()


@app.blob_trigger(arg_name="blob", path="small/{name}", connection="Storage")
def on_small_blob(blob: func.InputStream) -> None:
    STARTED[str(blob.name)] = time.time()


@app.blob_trigger(arg_name="blob", path="big/{name}.csv", connection="Storage")
def on_big_blob(blob: func.InputStream) -> None:
    STARTED[str(blob.name)] = time.time()


@app.event_grid_trigger(arg_name="event")
def on_blob_event(event: func.EventGridEvent) -> None:
    container, _, name = event.subject.removeprefix("/blobServices/default/containers/").partition("/blobs/")
    STARTED[f"{container}/{name}"] = time.time()


EVENTGRID_CONTAINERS = ("eg-landing", "eg-raw", "eg-drops")
EVENTGRID_CONFIG = {
    "subscriptions": [
        {
            "name": "bench",
            "function": "on_blob_event",
            "source": "Storage",
            "filter": {
                "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
                "subjectBeginsWith": "/blobServices/default/containers/eg-",
            },
        }
    ]
}


@app.queue_trigger(arg_name="msg", queue_name="work", connection="Storage")
def on_queue(msg: func.QueueMessage) -> None:
    STARTED[msg.get_body().decode()] = time.time()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="orders", connection="ServiceBus")
def on_servicebus(msg: func.ServiceBusMessage) -> None:
    STARTED[msg.get_body().decode()] = time.time()


CROSS_PROCESS_SENDER = """
import json, random, sys, time
sys.path.insert(0, sys.argv[1])
from localbus import LocalServiceBus
bus = LocalServiceBus(sys.argv[2])
for i in range(int(sys.argv[3])):
    key = f"x-{i}"
    print(json.dumps([key, time.time()]), flush=True)
    bus.send("orders", key)
    time.sleep(random.uniform(0.05, 0.15))
"""


async def invoke(function: Any, args: dict[str, Any]) -> Any:
    return await asyncio.to_thread(function.get_user_function(), **args)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def wait_started(key: str, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while key not in STARTED:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} did not start within {timeout}s")
        await asyncio.sleep(0.002)
    return STARTED[key]


async def blob_latencies(service: AsyncBlobServiceClient, container: str, names: list[str]) -> list[float]:
    client = service.get_container_client(container)
    out = []
    for name in names:
        await asyncio.sleep(random.uniform(0.02, 0.12))
        t0 = time.time()
        await client.upload_blob(name, b"payload", overwrite=True)
        out.append((await wait_started(f"{container}/{name}") - t0) * 1000)
    return out


async def eventgrid_latencies(service: AsyncBlobServiceClient, count: int) -> list[float]:
    out: list[float] = []
    for i in range(count):
        container = EVENTGRID_CONTAINERS[i % len(EVENTGRID_CONTAINERS)]
        out += await blob_latencies(service, container, [uuid.uuid4().hex])
    return out


async def queue_latencies(connection: str, count: int) -> list[float]:
    out = []
    async with QueueClient.from_connection_string(connection, "work") as queue:
        for i in range(count):
            await asyncio.sleep(random.uniform(0.02, 0.12))
            key = f"q-{i}"
            t0 = time.time()
            await queue.send_message(encode_queue_message(key, QueuesOptions()))
            out.append((await wait_started(key) - t0) * 1000)
    return out


async def servicebus_latencies(bus: LocalServiceBus, count: int) -> list[float]:
    out = []
    for i in range(count):
        await asyncio.sleep(random.uniform(0.02, 0.12))
        key = f"sb-{i}"
        t0 = time.time()
        await asyncio.to_thread(bus.send, "orders", key)
        out.append((await wait_started(key) - t0) * 1000)
    return out


async def servicebus_cross_process(state: Path, count: int) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CROSS_PROCESS_SENDER,
        str(ROOT),
        str(state),
        str(count),
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    sent = [json.loads(line) for line in (await proc.stdout.read()).decode().splitlines()]
    await proc.wait()
    return [(await wait_started(key) - t0) * 1000 for key, t0 in sent]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(samples: int, untouched: int) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, start_azurite(None, project_dir=ROOT) as azurite:
        connection = azurite.connection_string
        sync_blobs = BlobServiceClient.from_connection_string(connection)
        sync_blobs.create_container("small")
        for name in EVENTGRID_CONTAINERS:
            sync_blobs.create_container(name)
        big = sync_blobs.create_container("big")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: big.upload_blob(f"2025-{i:06d}.txt", b"x"), range(untouched)))
        state = Path(tmp)
        (state / "eventgrid.config.json").write_text(json.dumps(EVENTGRID_CONFIG))
        services = HostServices(
            app_dir=state,
            state_dir=state,
            settings={"Storage": connection, "ServiceBus": "local"},
            host_json={"version": "2.0"},
            invoke=invoke,
            log=logging.getLogger("bench"),
        )
        functions = {f.get_function_name(): f for f in app.get_functions()}

        async def start(names: list[str]) -> list[TriggerListener]:
            started = build_listeners(services, [functions[n] for n in names])
            for listener in started:
                await listener.start()
            return started

        async def stop(started: list[TriggerListener]) -> None:
            for listener in started:
                await listener.stop()

        # Phase 1: a small container, a queue and a Service Bus queue.
        listeners = await start(["on_small_blob", "on_blob_event", "on_queue", "on_servicebus"])
        try:
            async with AsyncBlobServiceClient.from_connection_string(connection) as service:
                small = await blob_latencies(service, "small", [uuid.uuid4().hex for _ in range(samples)])
                eventgrid = await eventgrid_latencies(service, samples)
            queue = await queue_latencies(connection, samples)
            bus = LocalServiceBus(state)
            servicebus = await servicebus_latencies(bus, samples)
            cross = await servicebus_cross_process(state, max(10, samples // 2))
        finally:
            await stop(listeners)

        # Phase 2: the same small container while another listener sweeps the big one.
        listeners = await start(["on_small_blob", "on_big_blob"])
        try:
            await asyncio.sleep(1.0)  # first sweeps done
            assert azurite.process is not None
            cpu0, wall0 = cpu_seconds(azurite.process.pid), time.monotonic()
            await asyncio.sleep(5.0)
            idle_cpu = (cpu_seconds(azurite.process.pid) - cpu0) / (time.monotonic() - wall0) * 100
            async with AsyncBlobServiceClient.from_connection_string(connection) as service:
                fresh = [uuid.uuid4().hex for _ in range(samples)]
                small_busy = await blob_latencies(service, "small", fresh)
                big_tail = await blob_latencies(service, "big", [f"2026-{i:06d}.csv" for i in range(samples)])
                big_random = await blob_latencies(
                    service, "big", [f"0-{uuid.uuid4().hex}.csv" for _ in range(max(10, samples // 5))]
                )
        finally:
            await stop(listeners)

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q), 1)

    result = {
        "blob_p50_ms": ms(small, 0.5),
        "blob_p99_ms": ms(small, 0.99),
        "eventgrid_p50_ms": ms(eventgrid, 0.5),
        "eventgrid_p99_ms": ms(eventgrid, 0.99),
        "servicebus_p50_ms": ms(servicebus, 0.5),
        "queue_p50_ms": ms(queue, 0.5),
        "queue_p99_ms": ms(queue, 0.99),
        "servicebus_p99_ms": ms(servicebus, 0.99),
        "servicebus_cross_process_p50_ms": ms(cross, 0.5),
        f"blob_p50_ms_{untouched}_untouched_increasing_names": ms(big_tail, 0.5),
        f"blob_p99_ms_{untouched}_untouched_increasing_names": ms(big_tail, 0.99),
        f"blob_p50_ms_{untouched}_untouched_names_sorting_first": ms(big_random, 0.5),
        f"blob_p99_ms_{untouched}_untouched_names_sorting_first": ms(big_random, 0.99),
        f"azurite_idle_cpu_pct_{untouched}_untouched": round(idle_cpu, 1),
        f"blob_p50_ms_small_while_sweeping_{untouched}": ms(small_busy, 0.5),
        f"blob_p99_ms_small_while_sweeping_{untouched}": ms(small_busy, 0.99),
        "blob_mean_ms": round(statistics.mean(small), 1),
        "samples": samples,
    }
    for label, values in (
        ("small container, random names", small),
        (f"small container while another listener sweeps {untouched} blobs", small_busy),
        (f"{untouched} untouched, names sorting after them", big_tail),
        (f"{untouched} untouched, names sorting before them", big_random),
    ):
        print(f"blob ({label}): p50 {ms(values, 0.5)} ms, p99 {ms(values, 0.99)} ms")
    print(
        f"event grid intake ({len(EVENTGRID_CONTAINERS)} containers): p50 {result['eventgrid_p50_ms']} ms, "
        f"p99 {result['eventgrid_p99_ms']} ms (polling blob trigger: p50 {result['blob_p50_ms']} ms, "
        f"p99 {result['blob_p99_ms']} ms)"
    )
    print(
        f"queue: p50 {result['queue_p50_ms']} ms; service bus: p50 {result['servicebus_p50_ms']} ms "
        f"(from another process {result['servicebus_cross_process_p50_ms']} ms)"
    )
    print(f"Azurite CPU while idle-watching {untouched} untouched blobs: {round(idle_cpu, 1)} %")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--untouched", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(run(args.samples, args.untouched))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
