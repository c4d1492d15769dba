"""Output bindings for blob, queue and Service Bus (`func.Out[...]` parameters and `$return`).

Shared by every caller of a function (event listeners and the HTTP side): `prepare_outputs` builds the `Out`
objects to pass by parameter name; after a successful invocation `await outputs.flush(return_value)` writes
what the function set, to the same stores the triggers read, so one function's output can trigger another.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.decorators.core import BindingDirection
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from devhost.triggers import signals
from devhost.triggers.connections import account_key, storage_connection
from devhost.triggers.expressions import render, resolve_settings
from devhost.triggers.options import QueuesOptions
from localbus import STATE_DIR_ENV, LocalServiceBus, state_dir_from_environment

OUTPUT_TYPES = frozenset({"blob", "queue", "serviceBus"})
RETURN = "$return"


class OutValue(func.Out[Any]):
    """The value holder the worker passes for an output parameter."""

    def __init__(self) -> None:
        self._value: Any = None
        self.is_set = False

    def set(self, val: Any) -> None:
        self._value = val
        self.is_set = True

    def get(self) -> Any:
        return self._value


@dataclass(frozen=True)
class OutputBinding:
    name: str
    type: str
    properties: Mapping[str, Any]


def output_bindings(function: Any) -> list[OutputBinding]:
    found = []
    for binding in function.get_bindings():
        raw = binding.get_dict_repr()
        if raw.get("type") in OUTPUT_TYPES and raw.get("direction") == BindingDirection.OUT:
            found.append(OutputBinding(name=str(raw["name"]), type=str(raw["type"]), properties=raw))
    return found


def _to_bytes(value: Any) -> bytes:
    if callable(getattr(value, "read", None)):
        value = value.read()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected str, bytes or a file-like object, got {type(value).__name__}")


def _items(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


@dataclass
class OutputSet:
    """`args` goes to the function by parameter name; `flush` writes what was set (in binding order)."""

    function_name: str
    settings: Mapping[str, str]
    state_dir: Path | None
    bindings: list[OutputBinding]
    binding_data: Mapping[str, Any]
    queues: QueuesOptions = field(default_factory=QueuesOptions)
    args: dict[str, OutValue] = field(default_factory=dict)

    async def flush(self, return_value: Any = None) -> None:
        for binding in self.bindings:
            if binding.name == RETURN:
                if return_value is None:
                    continue
                value = return_value
            else:
                holder = self.args[binding.name]
                if not holder.is_set or holder.get() is None:
                    continue
                value = holder.get()
            where = f"function {self.function_name}: output {binding.name!r}"
            if binding.type == "blob":
                await self._write_blob(binding, value, where)
            elif binding.type == "queue":
                await self._write_queue(binding, value, where)
            else:
                self._write_servicebus(binding, value, where)

    def _prop(self, binding: OutputBinding, key: str, where: str) -> str:
        raw = binding.properties.get(key)
        if not raw:
            raise ValueError(f"{where}: the binding has no {key!r}")
        return render(resolve_settings(str(raw), self.settings, where=where), self.binding_data, where=where)

    async def _write_blob(self, binding: OutputBinding, value: Any, where: str) -> None:
        path = self._prop(binding, "path", where)
        container, _, blob_name = path.partition("/")
        if not blob_name:
            raise ValueError(f"{where}: path {path!r} must be 'container/blob'")
        connection = storage_connection(self.settings, binding.properties.get("connection"), where=where)
        data = _to_bytes(value)
        async with BlobServiceClient.from_connection_string(connection) as service:
            client = service.get_container_client(container)
            try:
                await client.upload_blob(blob_name, io.BytesIO(data), overwrite=True, length=len(data))
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    await client.create_container()
                await client.upload_blob(blob_name, io.BytesIO(data), overwrite=True, length=len(data))
        signals.notify("blob", account_key(connection), container, blob_name)

    async def _write_queue(self, binding: OutputBinding, value: Any, where: str) -> None:
        queue_name = self._prop(binding, "queueName", where).lower()
        connection = storage_connection(self.settings, binding.properties.get("connection"), where=where)
        async with QueueServiceClient.from_connection_string(connection) as service:
            client = service.get_queue_client(queue_name)
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
            for item in _items(value):
                await client.send_message(encode_queue_message(item, self.queues))
        signals.notify("queue", account_key(connection), queue_name)

    def _write_servicebus(self, binding: OutputBinding, value: Any, where: str) -> None:
        state_dir = self.state_dir or state_dir_from_environment()
        if state_dir is None:
            raise ValueError(f"{where}: no state directory for the local Service Bus "
                             f"(pass state_dir to prepare_outputs or set {STATE_DIR_ENV})")
        bus = _bus(Path(state_dir).resolve())
        topic = binding.properties.get("topicName")
        if topic:
            name = self._prop(binding, "topicName", where)
            bus.create_topic(name)
        else:
            name = self._prop(binding, "queueName", where)
        for item in _items(value):
            bus.send(name, item if isinstance(item, bytes | str | dict) else str(item))


@functools.lru_cache(maxsize=16)
def _bus(state_dir: Path) -> LocalServiceBus:
    return LocalServiceBus(state_dir)


def encode_queue_message(item: Any, options: QueuesOptions) -> str:
    """Encode like the host: base64 of the UTF-8 bytes unless host.json says messageEncoding none."""
    if isinstance(item, func.QueueMessage):
        item = item.get_body()
    if isinstance(item, dict | list):
        item = json.dumps(item)
    data = _to_bytes(item)
    if options.messageEncoding == "base64":
        return base64.b64encode(data).decode("ascii")
    return data.decode("utf-8")


def prepare_outputs(
    function: Any,
    settings: Mapping[str, str],
    *,
    state_dir: Path | None = None,
    binding_data: Mapping[str, Any] | None = None,
    queues: QueuesOptions | None = None,
) -> OutputSet:
    """The `Out` objects for `function`'s blob/queue/Service Bus outputs, ready to pass as arguments.

    `binding_data` fills `{...}` placeholders in paths and names (trigger metadata such as `name` for a
    blob trigger, `id` for a queue message, or JSON body fields). `state_dir` locates the local Service
    Bus; without it, `LOCALBUS_STATE_DIR` (exported by `build_listeners`) is used.
    """
    bindings = output_bindings(function)
    outputs = OutputSet(
        function_name=function.get_function_name(),
        settings=settings,
        state_dir=state_dir,
        bindings=bindings,
        binding_data=dict(binding_data or {}),
        queues=queues or QueuesOptions(),
    )
    outputs.args = {b.name: OutValue() for b in bindings if b.name != RETURN}
    return outputs


def merge_args(trigger_args: Mapping[str, Any], outputs: OutputSet) -> dict[str, Any]:
    return {**trigger_args, **outputs.args}


__all__: Sequence[str] = ["OutValue", "OutputSet", "encode_queue_message", "merge_args", "prepare_outputs"]
