"""The bus rule routes to the fan-out every event type it acts on, and nothing it ignores."""

from __future__ import annotations

from provisioning.access.fanout import CONSUMED_EVENTS
from provisioning.local.cfn import load_template
from tests.conftest import REPO_ROOT


def test_the_access_rule_routes_exactly_the_events_the_fanout_consumes():
    rule = load_template(REPO_ROOT / "template.yaml")["Resources"]["AccessChangesRule"]
    routed = rule["Properties"]["EventPattern"]["detail-type"]
    assert sorted(routed) == sorted(event.detail_type for event in CONSUMED_EVENTS)
