"""EventBridge rule delivery to SQS for moto's event buses, as EventBridge does it.

moto (5.2) delivers a put event to the SQS targets of the bus's rules, but not as EventBridge
does: the message lacks the event's `account`, a DISABLED rule still delivers, a rule with only a
schedule matches every event, and its pattern matching differs from EventBridge's (300 matches
300.0, true matches 1, an array of objects in the event never matches). The handlers downstream
parse the message as EventBridge's envelope, so while the block runs, rules match with
`patterns.py` and SQS targets receive the envelope EventBridge would send.

Not emulated: targets other than SQS, input transformation (Input, InputPath, InputTransformer),
FIFO targets (SqsParameters), and a target's RetryPolicy and DeadLetterConfig: sending to a queue
that exists locally does not fail.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule
from moto.sqs.models import sqs_backends

from provisioning.local.patterns import EventPattern, PatternError

logger = logging.getLogger("provisioning.local")

ENABLED = "ENABLED"
# What a target must not have to receive the event as it is.
_TRANSFORMS = ("Input", "InputPath", "InputTransformer", "SqsParameters")


def envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as EventBridge matches it and sends it to targets, in its documented order,
    from the fields moto's PutEvents gathered (`time` in epoch seconds)."""
    moment = datetime.fromtimestamp(float(event["time"]), UTC)
    return {
        "version": "0",
        "id": event["id"],
        "detail-type": event["detail-type"],
        "source": event["source"],
        "account": event["account"],
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": event["region"],
        "resources": list(event.get("resources") or []),
        "detail": event["detail"],
    }


@functools.lru_cache(maxsize=256)
def rule_pattern(text: str) -> EventPattern:
    """A rule's EventPattern, parsed once (`PatternError` if the local stack cannot match it)."""
    return EventPattern.parse(text)


def _send_to_targets(rule: Rule, event: Mapping[str, Any], **_moto_options: Any) -> None:
    """Replaces `Rule.send_to_targets`: what one put event does to one rule of its bus (moto's
    S3 notifications pass `transform_input`, which only input transformers would need)."""
    text = rule.event_pattern.dump()
    if rule.state != ENABLED or not text:
        return
    message = envelope(event)
    try:
        if not rule_pattern(text).matches(message):
            return
    except PatternError as exc:
        logger.error("rule %s: its pattern cannot be matched locally (%s)", rule.name, exc)
        return
    body = json.dumps(message, separators=(",", ":"))
    for target in rule.targets:
        arn = str(target["Arn"]).split(":")
        if arn[2] != "sqs" or any(key in target for key in _TRANSFORMS):
            logger.warning(
                "rule %s: target %s is not delivered locally (only SQS targets of the whole "
                "event are)",
                rule.name,
                target["Id"],
            )
            continue
        _, _, _, region, account, queue_name = arn
        sqs_backends[account][region].send_message(queue_name=queue_name, message_body=body)


@contextmanager
def eventbridge_delivery() -> Iterator[None]:
    """Deliver put events to rule targets as EventBridge does while the block runs."""
    original = Rule.send_to_targets
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Rule.send_to_targets = original  # type: ignore[method-assign]
