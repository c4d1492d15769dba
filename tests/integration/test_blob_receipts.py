"""Blob receipts in Table storage (Azurite): one claim per upload across hosts, stale claims taken over."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from jobclusters.tracking.blob_receipts import TableBlobReceipts
from triggers.blob_rules import ArrivedBlob

pytestmark = pytest.mark.integration

BLOB = ArrivedBlob(container="in", name="a.csv", size=3, url="http://x/devstoreaccount1/in/a.csv", etag="0x1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_host_claims_an_upload_and_every_other_sees_it_busy_then_started(storage_connection: str) -> None:
    prefix = "r" + uuid.uuid4().hex[:8]
    clock = Clock()
    first = TableBlobReceipts(storage_connection, prefix, owner="host-a", clock=clock)
    second = TableBlobReceipts(storage_connection, prefix, owner="host-b", clock=clock)

    async def scenario() -> None:
        claims = await asyncio.gather(*(r.claim("job", "run-1", BLOB) for r in (first, second)))
        assert sorted(c.outcome for c in claims) == ["busy", "claimed"]
        winner = first if claims[0].outcome == "claimed" else second
        await winner.mark_started("job", "run-1")
        for receipts in (first, second):
            claim = await receipts.claim("job", "run-1", BLOB)
            assert (claim.outcome, claim.owner) == ("started", winner.owner)

    asyncio.run(scenario())


def test_a_claim_left_by_a_dead_host_is_taken_over_after_the_timeout_and_a_failed_start_is_released(
    storage_connection: str,
) -> None:
    prefix = "r" + uuid.uuid4().hex[:8]
    clock = Clock()
    dead = TableBlobReceipts(storage_connection, prefix, owner="dead", clock=clock, claim_timeout=60)
    alive = TableBlobReceipts(storage_connection, prefix, owner="alive", clock=clock, claim_timeout=60)

    async def scenario() -> None:
        assert (await dead.claim("job", "run-2", BLOB)).outcome == "claimed"
        clock.now += 59
        assert (await alive.claim("job", "run-2", BLOB)).outcome == "busy"
        clock.now += 1
        assert (await alive.claim("job", "run-2", BLOB)).outcome == "claimed"
        await dead.release("job", "run-2")  # not its claim any more: nothing happens
        assert (await dead.claim("job", "run-2", BLOB)).outcome == "busy"
        await alive.release("job", "run-2")  # its start failed: the next delivery claims again
        assert (await dead.claim("job", "run-2", BLOB)).outcome == "claimed"

    asyncio.run(scenario())
