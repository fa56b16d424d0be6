"""Lambda event filtering patterns: the operators Lambda documents, on DynamoDB stream records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioning.local.patterns import EventPattern, PatternError, matches_any

# A stream record as Lambda delivers it, trimmed to what the patterns below look at.
RECORD: dict[str, Any] = {
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "Keys": {"pk": {"S": "ORG#acme"}, "sk": {"S": "TASK#1"}},
        "NewImage": {
            "pk": {"S": "ORG#acme"},
            "sk": {"S": "TASK#1"},
            "kind": {"S": "PurgeTask"},
            "count": {"N": "5"},
            "active": {"BOOL": True},
            "note": {"NULL": True},
            "empty": {"S": ""},
            "tags": {"SS": ["red", "blue"]},
            "file": {"S": "report.PNG"},
        },
        "SequenceNumber": "1100000000017454423009",
        "SizeBytes": 120,
    },
    "score": 300,
    "ratio": 0.5,
    "owner": None,
    "items": [{"name": "a", "size": 1}, {"name": "b", "size": 2}],
}


def matches(pattern: dict[str, Any], event: Any = None) -> bool:
    return EventPattern.parse(json.dumps(pattern)).matches(RECORD if event is None else event)


def image(**fields: Any) -> dict[str, Any]:
    return {"dynamodb": {"NewImage": fields}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # Equals, on metadata and on DynamoDB JSON.
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY"]}, False),
        (image(kind={"S": ["PurgeTask"]}), True),
        (image(kind={"S": ["purgetask"]}), False),
        # And: every field; Or: any value of one field.
        ({"eventName": ["INSERT"], **image(kind={"S": ["PurgeTask"]})}, True),
        ({"eventName": ["REMOVE"], **image(kind={"S": ["PurgeTask"]})}, False),
        ({"eventName": ["MODIFY", "INSERT"]}, True),
        # Or across fields.
        ({"$or": [{"eventName": ["REMOVE"]}, image(kind={"S": ["PurgeTask"]})]}, True),
        ({"$or": [{"eventName": ["REMOVE"]}, {"awsRegion": ["eu-west-1"]}]}, False),
        # Null and empty.
        ({"owner": [None]}, True),
        ({"eventName": [None]}, False),
        (image(empty={"S": [""]}), True),
        (image(kind={"S": [""]}), False),
        # Booleans and numbers are typed: the string "true" is not true.
        (image(active={"BOOL": [True]}), True),
        (image(active={"BOOL": ["true"]}), False),
        ({"score": [300]}, True),
        ({"score": ["300"]}, False),
        ({"score": [300.0]}, False),  # numbers match by their text, as EventBridge does
        # Equals, ignoring case.
        (image(kind={"S": [{"equals-ignore-case": "purgetask"}]}), True),
        (image(kind={"S": [{"equals-ignore-case": "purge"}]}), False),
        # Not.
        ({"eventName": [{"anything-but": ["REMOVE", "MODIFY"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"score": [{"anything-but": [100, 200]}]}, True),
        ({"missing": [{"anything-but": ["x"]}]}, False),  # a missing field is nothing
        # Numeric: values compare, only JSON numbers take part.
        ({"score": [{"numeric": ["=", 300]}]}, True),
        ({"score": [{"numeric": ["=", 300.0]}]}, True),
        ({"score": [{"numeric": [">", 10, "<=", 300]}]}, True),
        ({"score": [{"numeric": [">", 300]}]}, False),
        ({"ratio": [{"numeric": [">=", 0.5, "<", 1]}]}, True),
        (image(count={"N": [{"numeric": [">", 1]}]}), False),  # DynamoDB numbers are strings
        ({"eventName": [{"numeric": [">", 0]}]}, False),
        # Exists: leaf values only.
        (image(kind={"S": [{"exists": True}]}), True),
        (image(kind=[{"exists": True}]), False),  # an intermediate node is not a leaf
        (image(gone={"S": [{"exists": True}]}), False),
        (image(gone={"S": [{"exists": False}]}), True),
        (image(kind={"S": [{"exists": False}]}), False),
        ({"nothing": {"deeper": [{"exists": False}]}}, True),
        # Begins and ends with.
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORG#"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "USER#"}]}}}}, False),
        (image(file={"S": [{"suffix": ".PNG"}]}), True),
        (image(file={"S": [{"suffix": ".png"}]}), False),
        # Arrays: any element may match; fields of one object pattern meet in one element.
        (image(tags={"SS": ["blue"]}), True),
        (image(tags={"SS": ["green"]}), False),
        ({"items": {"name": ["b"], "size": [2]}}, True),
        ({"items": {"name": ["a"], "size": [2]}}, False),
        # A filter for another field's value never matches a missing one.
        ({"dynamodb": {"OldImage": {"kind": {"S": ["PurgeTask"]}}}}, False),
    ],
)
def test_lambda_filter_rule(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern) is expected


def test_the_purge_task_filter_from_the_template() -> None:
    text = '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["PurgeTask"]}}}}'
    pattern = EventPattern.parse(text)
    assert pattern.matches(RECORD)
    assert not pattern.matches({**RECORD, "eventName": "MODIFY"})
    other = json.loads(json.dumps(RECORD))
    other["dynamodb"]["NewImage"]["kind"] = {"S": "Outbox"}
    assert not pattern.matches(other)


def test_filters_are_ored_and_no_filter_lets_everything_through() -> None:
    insert = EventPattern.parse('{"eventName": ["INSERT"]}')
    remove = EventPattern.parse('{"eventName": ["REMOVE"]}')
    assert matches_any([remove, insert], RECORD)
    assert not matches_any([remove], RECORD)
    assert matches_any([], RECORD)


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        '["INSERT"]',
        '{"eventName": "INSERT"}',  # a value must sit in an array
        '{"eventName": [{"wildcard": "IN*"}]}',  # EventBridge only
        '{"eventName": [{"anything-but": {"prefix": "IN"}}]}',  # EventBridge only
        '{"eventName": [{"anything-but": []}]}',
        '{"eventName": [{"prefix": 1}]}',
        '{"eventName": [{"suffix": ["a"]}]}',
        '{"eventName": [{"exists": "yes"}]}',
        '{"eventName": [{"prefix": "a", "suffix": "b"}]}',
        '{"score": [{"numeric": ["!=", 1]}]}',
        '{"score": [{"numeric": [">", "1"]}]}',
        '{"score": [{"numeric": [">", 1, ">", 2]}]}',
        '{"score": [{"numeric": ["=", 1, "<", 2]}]}',
        '{"score": [{"numeric": [">"]}]}',
        '{"$or": [{"eventName": ["INSERT"]}]}',
        '{"$or": "INSERT"}',
    ],
)
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        EventPattern.parse(pattern)


def test_a_source_may_allow_fewer_operators() -> None:
    # Each service states which operators its patterns take; the parser refuses the others.
    only_prefix = frozenset({"prefix"})
    assert EventPattern.parse('{"ip": [{"prefix": "10."}]}', only_prefix).matches({"ip": "10.1"})
    with pytest.raises(PatternError, match="numeric"):
        EventPattern.parse('{"n": [{"numeric": [">", 1]}]}', only_prefix)
    with pytest.raises(ValueError, match="cidr"):
        EventPattern.parse('{"ip": ["10.0.0.1"]}', frozenset({"cidr"}))
