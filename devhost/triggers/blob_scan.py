"""Finding new and changed blobs in one container, at a bounded cost per poll (blob and Event Grid triggers).

Azurite offers no change feed and container properties do not change on blob writes, so detection polls:
a tail probe lists only names after the greatest one seen (new uploads with dated or numbered names), and a
rotating sweep lists one page of the whole prefix per turn, paced by its own cost, for changes anywhere.
Blobs whose ETag is in `known` cost a dict lookup, no request. Details: docs/devhost-triggers.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobProperties
from azure.storage.blob.aio import ContainerClient

from devhost.triggers.common import one_line
from devhost.triggers.options import ListenerTuning

# Sweep pacing by what a page returned: one poll interval per this many blobs listed (the emulator's cost
# grows with the entries it returns). A big container is swept at about 500 blobs per second, keeping the
# (single-threaded) emulator free most of the time; up to this many blobs are swept every interval.
SWEEP_ENTRIES_PER_INTERVAL = 50

OnBlob = Callable[[BlobProperties], None]


def etag_text(value: str | None) -> str:
    return (value or "").strip('"')


class BlobScanner:
    """Calls `on_blob` with the properties of every blob (under `prefix`) whose ETag is not in `known`.

    The caller records a version in `known` once it is settled; blobs that disappear are dropped from
    `known` when a sweep completes.
    """

    def __init__(
        self,
        container: ContainerClient,
        prefix: str,
        tuning: ListenerTuning,
        log: logging.Logger,
        label: str,
        on_blob: OnBlob,
    ) -> None:
        self.container = container
        self.prefix = prefix
        self.tuning = tuning
        self.known: dict[str, str] = {}
        self._log = log
        self._label = label
        self._on_blob = on_blob
        self._marker: str | None = None
        self._tail: str | None = None
        self._probe_enabled = True
        self._sweep_seen: set[str] = set()
        self._missing_logged = False
        self._next_probe = 0.0
        self._next_sweep = 0.0

    async def step(self) -> float:
        """Run the sweep page or tail probe that is due; returns the monotonic time the next one is due."""
        interval = self.tuning.blob_poll_interval
        now = time.monotonic()
        try:
            if now >= self._next_sweep:
                listed = await self._sweep_page()
                took = time.monotonic() - now
                pace = interval * max(1.0, listed / SWEEP_ENTRIES_PER_INTERVAL)
                self._next_sweep = time.monotonic() + max(pace, took)
                self._next_probe = now + interval
            elif now >= self._next_probe:
                await self._probe_tail()
                self._next_probe = now + interval
        except Exception as exc:  # a storage hiccup must not end the listener
            self._log.warning("%s: listing failed: %s", self._label, one_line(exc))
            self._next_probe = self._next_sweep = time.monotonic() + interval
        return min(self._next_probe, self._next_sweep)

    async def check(self, blob_name: str) -> None:
        """Look at one blob directly (one HEAD), e.g. one that devhost itself just wrote."""
        try:
            props = await self.container.get_blob_client(blob_name).get_blob_properties()
        except ResourceNotFoundError:
            return
        except Exception as exc:
            self._log.warning("%s: %s: %s", self._label, blob_name, one_line(exc))
            return
        props.name = blob_name
        self._offer(props)

    def _offer(self, props: BlobProperties) -> None:
        if self.known.get(props.name) != etag_text(props.etag):
            self._on_blob(props)

    async def _list_page(self, marker: str | None) -> tuple[list[BlobProperties], str | None]:
        """One page after `marker`; an absent container is an empty one."""
        pager = self.container.list_blobs(
            name_starts_with=self.prefix or None, results_per_page=self.tuning.blob_page_size
        ).by_page(continuation_token=marker)
        found: list[BlobProperties] = []
        try:
            async for page in pager:
                found = [blob async for blob in page]
                break
        except ResourceNotFoundError:
            if not self._missing_logged:
                self._log.info(
                    "%s: container %s does not exist yet", self._label, self.container.container_name
                )
                self._missing_logged = True
            return [], None
        return found, pager.continuation_token  # type: ignore[attr-defined]

    def _see(self, listed: list[BlobProperties]) -> None:
        for props in listed:
            if self._tail is None or props.name > self._tail:
                self._tail = props.name
            self._offer(props)

    async def _sweep_page(self) -> int:
        """The next page of the rotating sweep over the whole prefix (finds changes anywhere); returns how
        many blobs it listed."""
        listed, self._marker = await self._list_page(self._marker)
        self._sweep_seen.update(props.name for props in listed)
        self._see(listed)
        if not self._marker:
            for gone in set(self.known) - self._sweep_seen:
                del self.known[gone]
            self._sweep_seen = set()
        return len(listed)

    async def _probe_tail(self) -> None:
        """Blobs whose names sort after the last name seen (the usual shape of new uploads: dated or
        numbered names), listed from that name as the marker: a short answer however big the container."""
        if self._tail is None or not self._probe_enabled:
            return
        try:
            listed, _ = await self._list_page(self._tail)
        except Exception as exc:  # a service that only takes opaque markers: rely on the sweep alone
            self._probe_enabled = False
            self._log.info("%s: tail probe disabled: %s", self._label, one_line(exc))
            return
        self._see(listed)
