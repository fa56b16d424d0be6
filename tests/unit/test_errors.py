"""Every failure becomes an RFC 7644 §3.12 error body with the right status and scimType."""

import pytest
from pydantic import ValidationError
from scim2_models import Context, NotFoundException, UniquenessException

from provisioning.scim.errors import ERROR_SCHEMA, error_body, from_validation_error
from provisioning.scim.resources import POLICY, USER


def validation_error(payload):
    with pytest.raises(ValidationError) as caught:
        USER.model.model_validate(
            payload, scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY
        )
    return from_validation_error(caught.value)


def test_error_body_has_the_error_schema_and_status_as_a_string():
    body = error_body(UniquenessException(detail="taken"))
    assert body == {
        "schemas": [ERROR_SCHEMA],
        "status": "409",
        "scimType": "uniqueness",
        "detail": "taken",
    }


def test_error_without_scim_type_leaves_it_out():
    assert "scimType" not in error_body(NotFoundException(detail="gone"))


def test_missing_required_attribute_is_invalid_value():
    error = validation_error({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    assert (error.status, error.scim_type) == (400, "invalidValue")
    assert "userName" in error.detail


def test_wrong_base_schema_is_invalid_syntax():
    error = validation_error({"schemas": ["urn:example:other"], "userName": "x"})
    assert (error.status, error.scim_type) == (400, "invalidSyntax")


def test_wrongly_typed_value_is_invalid_value_and_does_not_echo_input():
    error = validation_error({"userName": "x", "active": "maybe-secret"})
    assert error.scim_type == "invalidValue"
    assert "maybe-secret" not in error.detail
