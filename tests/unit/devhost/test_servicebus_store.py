from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbus import EntityProperties, LocalServiceBus, LockLost, load_config
from localbus.config import ServiceBusConfigError

START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


class FakeClock:
    """Epoch seconds that move only when a test says so: no sleeping to prove that nothing happened."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_peek_lock_then_complete_removes_the_message(tmp_path: Path) -> None:
    bus = LocalServiceBus(tmp_path)
    bus.send("orders", {"n": 1}, message_id="m1", correlation_id="c1", application_properties={"k": "v"})
    [msg] = bus.receive("orders")
    assert (msg.message_id, msg.correlation_id, msg.content_type) == ("m1", "c1", "application/json")
    assert msg.application_properties == {"k": "v"} and msg.delivery_count == 1
    assert bus.receive("orders") == []  # locked
    bus.complete(msg.lock_token or "")
    assert bus.peek("orders") == []


def test_abandon_redelivers_until_max_delivery_count_then_dead_letters_with_reason(tmp_path: Path) -> None:
    bus = LocalServiceBus(tmp_path)
    bus.create_queue("q", EntityProperties(MaxDeliveryCount=3))
    bus.send("q", "body")
    counts = []
    for _ in range(3):
        [msg] = bus.receive("q")
        counts.append(msg.delivery_count)
        dead = bus.abandon(msg.lock_token or "")
    assert counts == [1, 2, 3] and dead
    assert bus.receive("q") == []
    [dl] = bus.dead_letters("q")
    assert dl.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert "3 delivery attempts" in (dl.dead_letter_error_description or "")


def test_an_expired_lock_counts_as_a_delivery(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = LocalServiceBus(tmp_path, clock=clock)
    bus.create_queue("q", EntityProperties.model_validate({"LockDuration": "PT0.2S", "MaxDeliveryCount": 2}))
    bus.send("q", "x")
    [first] = bus.receive("q")
    clock.advance(0.199)
    assert bus.receive("q") == []  # not redelivered while the lock holds
    clock.advance(0.002)
    with pytest.raises(LockLost):
        bus.complete(first.lock_token or "")
    [second] = bus.receive("q")
    assert second.delivery_count == 2
    clock.advance(0.201)
    assert bus.receive("q") == []
    assert bus.dead_letters("q")[0].dead_letter_reason == "MaxDeliveryCountExceeded"


def test_scheduled_message_is_invisible_until_its_time(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = LocalServiceBus(tmp_path, clock=clock)
    at = datetime.fromtimestamp(clock.now, UTC) + timedelta(seconds=0.3)
    bus.send("q", "later", scheduled_enqueue_time=at)
    assert bus.receive("q") == []
    clock.advance(0.299)
    assert bus.receive("q") == []
    assert bus.next_visible_time("q") == at.timestamp()
    clock.advance(0.001)
    [msg] = bus.receive("q")
    assert msg.scheduled_enqueue_time_utc is not None
    assert msg.enqueued_time_utc >= at - timedelta(seconds=0.01)


def test_topic_fans_out_to_every_subscription(tmp_path: Path) -> None:
    bus = LocalServiceBus(tmp_path)
    bus.create_subscription("events", "a")
    bus.create_subscription("events", "b")
    assert len(bus.send("events", "hello")) == 2
    assert [m.body for m in bus.receive("events", "a")] == [b"hello"]
    assert [m.body for m in bus.receive("events", "b")] == [b"hello"]


def test_messages_survive_a_new_broker_object(tmp_path: Path) -> None:
    LocalServiceBus(tmp_path).send("q", b"\x00\x01")
    assert LocalServiceBus(tmp_path).receive("q")[0].body == b"\x00\x01"


def test_expired_message_is_dead_lettered_when_the_entity_asks_for_it(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = LocalServiceBus(tmp_path, clock=clock)
    bus.create_queue("q", EntityProperties(DeadLetteringOnMessageExpiration=True))
    bus.send("q", "x", time_to_live=timedelta(milliseconds=50))
    clock.advance(0.05)
    assert bus.receive("q") == []
    assert bus.dead_letters("q")[0].dead_letter_reason == "TTLExpiredException"


def test_emulator_config_file_sets_entity_properties(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(
        '{"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [{"Name": "q",'
        ' "Properties": {"MaxDeliveryCount": 1, "LockDuration": "PT30S"}}], "Topics": [{"Name": "t",'
        ' "Subscriptions": [{"Name": "s"}]}]}]}}'
    )
    bus = LocalServiceBus(tmp_path / "state")
    bus.apply_config(load_config(cfg))
    assert bus.entity_kind("t/Subscriptions/s") == "subscription"
    bus.send("q", "x")
    [msg] = bus.receive("q")
    assert bus.abandon(msg.lock_token or "")


def test_bad_config_names_the_json_path(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(
        '{"UserConfig": {"Namespaces": [{"Queues": [{"Name": "q", "Properties": {"LockDuration": "1m"}}]}]}}'
    )
    with pytest.raises(ServiceBusConfigError, match=r"\$\.UserConfig\.Namespaces\.0\.Queues\.0\.Properties"):
        load_config(cfg)


def test_a_renewed_lock_holds_past_its_first_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = LocalServiceBus(tmp_path, clock=clock)
    bus.create_queue("q", EntityProperties.model_validate({"LockDuration": "PT10S"}))
    bus.send("q", "x")
    [msg] = bus.receive("q")
    clock.advance(6)
    assert bus.renew_lock(msg.lock_token or "") == datetime.fromtimestamp(START + 16, UTC)
    clock.advance(6)
    assert bus.receive("q") == []
    bus.complete(msg.lock_token or "")
    assert bus.peek("q") == []


def test_an_expired_message_without_dead_lettering_is_dropped(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = LocalServiceBus(tmp_path, clock=clock)
    bus.send("q", "x", time_to_live=timedelta(seconds=5))
    clock.advance(4.9)
    assert [m.body for m in bus.peek("q")] == [b"x"]
    clock.advance(0.1)
    assert bus.receive("q") == []
    assert bus.peek("q") == [] and bus.dead_letters("q") == []
