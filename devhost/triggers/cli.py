"""`send-message` and `dead-letters`: talk to the local Service Bus of an app's state directory."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devhost.running import AmbiguousState, state_dir_for
from localbus import LocalServiceBus, StoredMessage


def _state_dir(args: argparse.Namespace) -> Path:
    return state_dir_for(Path(args.app), Path(args.state) if args.state is not None else None)


def _add_entity_args(cmd: argparse.ArgumentParser) -> None:
    target = cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("--queue", help="queue name")
    target.add_argument("--topic", help="topic name")
    cmd.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state directory (default: the running host's, else <app>/.devhost)",
    )


def add_commands(subparsers: Any) -> None:
    send = subparsers.add_parser(
        "send-message",
        help="send one message to the local Service Bus (queue, or topic: one copy per subscription)",
    )
    _add_entity_args(send)
    send.add_argument(
        "--body",
        required=True,
        help="message body: any text, sent as its UTF-8 bytes (a Service Bus body is bytes); "
        "content type application/json when it parses as JSON, else text/plain (a body starting with "
        "{ or [ must parse)",
    )
    send.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="K=V",
        help="application property (repeatable); V is parsed as JSON when it can be",
    )
    send.add_argument("--message-id", default=None)
    send.add_argument("--correlation-id", default=None)
    send.add_argument("--content-type", default=None, help="default: from --body (see there)")
    send.add_argument("--subject", default=None)
    send.add_argument(
        "--delay",
        type=float,
        default=None,
        metavar="SECONDS",
        help="scheduled enqueue time, this many seconds from now",
    )
    send.set_defaults(handler=run_send_message)

    dead = subparsers.add_parser(
        "dead-letters", help="list dead-lettered messages with their reasons (JSON lines)"
    )
    _add_entity_args(dead)
    dead.add_argument("--subscription", default=None, help="subscription name (with --topic)")
    dead.set_defaults(handler=run_dead_letters)


def _property(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--property: {text!r} is not KEY=VALUE")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def body_content_type(body: str, given: str | None) -> str:
    """The body is sent as its bytes either way. It is JSON when it parses; a body meant as JSON (it starts
    with `{` or `[`, or `--content-type application/json`) that does not parse is refused as a typo."""
    meant_json = body.lstrip().startswith(("{", "[")) or (given or "").startswith("application/json")
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        if meant_json:
            raise ValueError(f"--body: not valid JSON ({exc})") from None
        return given or "text/plain"
    return given or "application/json"


def run_send_message(args: argparse.Namespace) -> int:
    try:
        properties = dict(_property(p) for p in args.property)
        content_type = body_content_type(args.body, args.content_type)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        state = _state_dir(args)
    except AmbiguousState as exc:
        print(str(exc), file=sys.stderr)
        return 2
    bus = LocalServiceBus(state)
    entity = args.queue or args.topic
    if args.topic and bus.entity_kind(args.topic) != "topic":
        print(
            f"--topic: no topic named {args.topic!r} (start the host once, or declare it in "
            "servicebus.config.json)",
            file=sys.stderr,
        )
        return 2
    scheduled = datetime.now(UTC) + timedelta(seconds=args.delay) if args.delay else None
    numbers = bus.send(
        entity,
        args.body.encode("utf-8"),
        message_id=args.message_id,
        correlation_id=args.correlation_id,
        content_type=content_type,
        subject=args.subject,
        application_properties=properties,
        scheduled_enqueue_time=scheduled,
    )
    print(json.dumps({"entity": entity, "state": str(state), "sequenceNumbers": numbers}))
    return 0


def _describe(msg: StoredMessage) -> dict[str, Any]:
    return {
        "sequenceNumber": msg.sequence_number,
        "messageId": msg.message_id,
        "deadLetterReason": msg.dead_letter_reason,
        "deadLetterErrorDescription": msg.dead_letter_error_description,
        "deadLetterSource": msg.dead_letter_source,
        "deliveryCount": msg.delivery_count,
        "enqueuedTimeUtc": msg.enqueued_time_utc.isoformat(),
        "correlationId": msg.correlation_id,
        "contentType": msg.content_type,
        "applicationProperties": msg.application_properties,
        "body": msg.body_text(),
    }


def run_dead_letters(args: argparse.Namespace) -> int:
    if args.topic and not args.subscription:
        print(
            "--subscription: required with --topic (dead letters belong to a subscription)", file=sys.stderr
        )
        return 2
    try:
        bus = LocalServiceBus(_state_dir(args))
    except AmbiguousState as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for msg in bus.dead_letters(args.queue or args.topic, args.subscription):
        print(json.dumps(_describe(msg)))
    return 0
