from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbus import EntityProperties, LocalServiceBus
from tests.eventually import eventually_async
from tests.integration.apps.triggers_support import harness

pytestmark = pytest.mark.integration


def settings_for() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"ServiceBus": "UseLocalServiceBus=true", "SB_QUEUE": f"orders{tag}", "SB_TOPIC": f"events{tag}"}


def test_message_reaches_the_handler_with_its_properties_and_the_output_fans_out_to_the_topic(
    tmp_path: Path,
) -> None:
    settings = settings_for()

    async def scenario() -> None:
        async with harness.running({"sb_worker", "sb_audit"}, tmp_path, settings) as module:
            LocalServiceBus(tmp_path).send(
                settings["SB_QUEUE"], {"order": 7}, message_id="m-7", correlation_id="corr-7",
                application_properties={"tenant": "contoso"},
            )
            await eventually_async(lambda: any(k == "sb_audit" for k, _ in module.EVENTS), what="audit")
            worker = next(e for k, e in module.EVENTS if k == "sb_worker")
            assert worker["body"] == '{"order": 7}'
            assert (worker["message_id"], worker["correlation_id"]) == ("m-7", "corr-7")
            assert worker["properties"] == {"tenant": "contoso"}
            assert worker["content_type"] == "application/json" and worker["delivery_count"] == 1
            assert next(e for k, e in module.EVENTS if k == "sb_audit") == {"handled": '{"order": 7}'}
            assert LocalServiceBus(tmp_path).peek(settings["SB_QUEUE"]) == []  # completed

    asyncio.run(scenario())


def test_failing_handler_dead_letters_the_message_after_max_delivery_count_with_the_reason(
    tmp_path: Path,
) -> None:
    settings = settings_for()
    bus = LocalServiceBus(tmp_path)
    bus.create_queue(settings["SB_QUEUE"], EntityProperties(MaxDeliveryCount=4))

    async def scenario() -> None:
        async with harness.running({"sb_worker"}, tmp_path, settings) as module:
            bus.send(settings["SB_QUEUE"], "fail please", message_id="doomed")
            [dead] = await eventually_async(
                lambda: bus.dead_letters(settings["SB_QUEUE"]), what="dead letter"
            )
            assert dead.message_id == "doomed"
            assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
            description = dead.dead_letter_error_description or ""
            assert "after 4 delivery attempts" in description
            assert "RuntimeError: handler refuses fail please" in description
            assert [e["delivery_count"] for _, e in module.EVENTS] == [1, 2, 3, 4]

    asyncio.run(scenario())


def test_scheduled_message_is_delivered_no_earlier_than_its_enqueue_time(tmp_path: Path) -> None:
    settings = settings_for()

    async def scenario() -> None:
        async with harness.running({"sb_worker"}, tmp_path, settings) as module:
            at = datetime.now(UTC) + timedelta(seconds=0.8)
            LocalServiceBus(tmp_path).send(settings["SB_QUEUE"], "later", scheduled_enqueue_time=at)
            assert module.EVENTS == []
            # Seen at once on delivery, so an early one would be seen before `at` (the store's rule itself
            # is proven on a fake clock in tests/unit/devhost).
            await eventually_async(lambda: module.EVENTS, what="scheduled delivery")
            assert datetime.now(UTC) >= at
            assert module.EVENTS[0][1]["enqueued"] >= at - timedelta(milliseconds=5)

    asyncio.run(scenario())


def test_messages_sent_while_the_host_is_down_are_delivered_after_it_starts(tmp_path: Path) -> None:
    settings = settings_for()
    LocalServiceBus(tmp_path).create_queue(settings["SB_QUEUE"])
    for n in range(3):
        LocalServiceBus(tmp_path).send(settings["SB_QUEUE"], json.dumps({"n": n}))

    async def scenario() -> None:
        async with harness.running({"sb_worker"}, tmp_path, settings) as module:
            await eventually_async(lambda: len(module.EVENTS) == 3, what="three deliveries")
            assert sorted(json.loads(e["body"])["n"] for _, e in module.EVENTS) == [0, 1, 2]

    asyncio.run(scenario())
