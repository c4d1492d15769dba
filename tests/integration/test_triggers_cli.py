from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from localbus import EntityProperties, LocalServiceBus

APP = Path(__file__).resolve().parent / "apps" / "triggers_app"


def devhost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devhost", "--app", str(APP), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_send_message_then_dead_letters_lists_the_reason(tmp_path: Path) -> None:
    bus = LocalServiceBus(tmp_path)
    bus.create_queue("orders", EntityProperties(MaxDeliveryCount=1))
    sent = devhost("send-message", "--state", str(tmp_path), "--queue", "orders", "--body", '{"id": 1}',
                   "--property", "tenant=contoso", "--property", "priority=2", "--correlation-id", "c-1")
    assert sent.returncode == 0, sent.stderr
    [msg] = bus.receive("orders")
    assert json.loads(msg.body) == {"id": 1}
    assert msg.application_properties == {"tenant": "contoso", "priority": 2}
    assert msg.correlation_id == "c-1" and msg.content_type == "application/json"
    assert bus.abandon(msg.lock_token or "", "ValueError: bad order")

    listed = devhost("dead-letters", "--state", str(tmp_path), "--queue", "orders")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    entry = json.loads(line)
    assert entry["deadLetterReason"] == "MaxDeliveryCountExceeded"
    assert "ValueError: bad order" in entry["deadLetterErrorDescription"]
    assert entry["applicationProperties"] == {"tenant": "contoso", "priority": 2}


def test_send_message_rejects_a_body_that_is_not_json(tmp_path: Path) -> None:
    result = devhost("send-message", "--state", str(tmp_path), "--queue", "orders", "--body", "{oops")
    assert result.returncode == 2
    assert "--body: not valid JSON" in result.stderr
