"""Entra's documented deviations, normalized before validation."""

from provisioning.scim.compat import ENTERPRISE_USER, normalize_patch, normalize_resource


def test_bare_manager_id_in_a_resource_becomes_an_object():
    payload = {ENTERPRISE_USER: {"manager": "26118915-6090-4610-87a4-49d0f9d9f6d2"}}
    assert normalize_resource(payload)[ENTERPRISE_USER]["manager"] == {
        "value": "26118915-6090-4610-87a4-49d0f9d9f6d2"
    }


def test_entra_manager_patch_value_becomes_an_object():
    payload = {
        "Operations": [
            {"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": "m-1"},
            {"op": "Replace", "value": {ENTERPRISE_USER: {"manager": "m-2"}}},
            {"op": "Replace", "path": "displayName", "value": "m-3"},
        ]
    }
    operations = normalize_patch(payload)["Operations"]
    assert operations[0]["value"] == {"value": "m-1"}
    assert operations[1]["value"][ENTERPRISE_USER]["manager"] == {"value": "m-2"}
    assert operations[2]["value"] == "m-3"


def test_manager_objects_are_left_alone():
    payload = {ENTERPRISE_USER: {"manager": {"value": "m-1"}}}
    assert normalize_resource(payload)[ENTERPRISE_USER]["manager"] == {"value": "m-1"}
