"""The admin function's app: a JSON API under `/admin` (IAM-authorized by API Gateway) for
organizations, tokens, settings, workspaces, folders and access.

Errors are `{"error": <code>, "message": <text>}` with the status of the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scim2_models import SCIMException

from provisioning.access.errors import AccessError, InvalidInputError
from provisioning.access.model import (
    AccessRecord,
    FolderRevocation,
    GroupGrant,
    Level,
    Target,
    TargetKind,
)
from provisioning.access.service import AccessService
from provisioning.admin.check import MAX_BUDGET_SECONDS, ConsistencyCheck, dumps
from provisioning.admin.service import AdminService
from provisioning.auth.tokens import (
    InvalidOrganizationIdError,
    check_org_id,
)
from provisioning.http.app import Endpoint, Request, Response, Route, ScimApp, Scope
from provisioning.scim.errors import from_aws_failure, from_validation_error
from provisioning.settings import Settings, get_settings

ADMIN_BASE_PATH = "/admin"
JSON_CONTENT_TYPE = "application/json"
# The longest rotation grace an admin may ask for: a forgotten old token should not live on.
MAX_GRACE_HOURS = 24 * 30
# Organizations per page of GET /admin/orgs.
DEFAULT_ORGANIZATIONS_PAGE = 100
MAX_ORGANIZATIONS_PAGE = 200

_ERROR_CODES = {
    400: "invalidInput",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
    409: "conflict",
    413: "payloadTooLarge",
    429: "tooManyRequests",
    503: "serviceUnavailable",
}

logger = Logger(child=True)

Body = TypeVar("Body", bound=BaseModel)


class AdminJson:
    """The admin API's dialect: plain JSON, the caller an IAM principal."""

    base_path = ADMIN_BASE_PATH
    content_type = JSON_CONTENT_TYPE

    def identify(self, scope: Scope) -> tuple[str, str]:
        """API Gateway has already checked the SigV4 signature and `execute-api:Invoke` (the
        local stack serves the route on loopback only); the principal goes on every log line of
        the request, for the audit trail."""
        event = scope.get("aws.event") or {}
        iam = event.get("requestContext", {}).get("authorizer", {}).get("iam") or {}
        caller = str(iam.get("userArn") or iam.get("callerId") or "")
        logger.append_keys(caller=caller or None)
        return "", caller

    def error_response(self, exc: Exception) -> Response:
        if isinstance(exc, AccessError):
            status, message = exc.status, exc.message
        elif isinstance(exc, SCIMException):
            # The shared plumbing's refusals: a body that is not JSON, no such route, too large.
            status, message = exc.status, exc.detail
        elif (shed := from_aws_failure(exc)) is not None:
            body = {"error": _ERROR_CODES[shed.status], "message": shed.detail}
            return Response(shed.status, body, {"Retry-After": str(shed.retry_after)})
        else:
            status, message = 500, "the request could not be completed; it has been logged"
        code = _ERROR_CODES.get(status, "internalError")
        return Response(status, {"error": code, "message": message})


# --- request bodies ----------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CreateOrganization(_Body):
    id: str = Field(min_length=1, max_length=63)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class OrganizationPage(_Body):
    limit: int = Field(default=DEFAULT_ORGANIZATIONS_PAGE, ge=1, le=MAX_ORGANIZATIONS_PAGE)
    after: str | None = Field(default=None, min_length=1, max_length=63)


class RotateToken(_Body):
    # None: the stack's TokenGraceHours.
    grace_hours: float | None = Field(default=None, ge=0, le=MAX_GRACE_HOURS, alias="graceHours")


class ChangeSettings(_Body):
    allow_members_to_create_workspaces: bool | None = Field(
        default=None, alias="allowMembersToCreateWorkspaces"
    )
    folder_revocation: FolderRevocation | None = Field(default=None, alias="folderRevocation")


class CreateWorkspace(_Body):
    name: str = Field(min_length=1, max_length=200)
    created_by: str | None = Field(default=None, min_length=1, max_length=128, alias="createdBy")


class CreateFolder(_Body):
    name: str = Field(min_length=1, max_length=200)


class Rename(_Body):
    name: str = Field(min_length=1, max_length=200)


class SetLevel(_Body):
    level: Level


class CheckPage(_Body):
    """Where a consistency check goes on (`cursor`, from the previous answer's `next`), and how
    long this request may take."""

    cursor: str | None = Field(default=None, min_length=1, max_length=4096)
    max_seconds: float | None = Field(default=None, gt=0, le=MAX_BUDGET_SECONDS, alias="maxSeconds")


def parse(model: type[Body], data: Any) -> Body:
    """Validate input against its model; a refusal is a 400 naming the fields, never a trace."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(from_validation_error(exc).detail) from None


def _with_valid_org(endpoint: Endpoint) -> Endpoint:
    """Refuse a path whose organization id no organization can have (the token's rule: length
    and characters) with a 400 saying so, before any store reads it."""

    def checked(request: Request) -> Response:
        try:
            check_org_id(request.path_params["org"])
        except InvalidOrganizationIdError as exc:
            raise InvalidInputError(f"{exc} in the path") from None
        return endpoint(request)

    return checked


def _target(request: Request) -> Target:
    return parse(Target, {"type": request.path_params["type"], "id": request.path_params["id"]})


# --- rendering ---------------------------------------------------------------------------------


def _json(value: BaseModel) -> dict[str, Any]:
    return value.model_dump(by_alias=True, mode="json")


def _record(record: AccessRecord) -> dict[str, Any]:
    """A record with its effective level (a computed property, so not in the dump)."""
    return {**_json(record), "level": record.level.value if record.level else None}


def _grant(grant: GroupGrant) -> dict[str, Any]:
    return _json(grant)


class AdminEndpoints:
    """HTTP face of the admin and access services: parse, call, render."""

    def __init__(
        self,
        admin: AdminService,
        access: AccessService,
        default_grace_hours: float,
        check: ConsistencyCheck | None = None,
    ) -> None:
        self._admin = admin
        self._access = access
        self._default_grace_hours = default_grace_hours
        self._check = check

    def routes(self) -> list[Route]:
        """Every route; those under an organization check its id first, in one place."""
        return [
            Route(
                route.template,
                {
                    method: _with_valid_org(endpoint) if "{org}" in route.template else endpoint
                    for method, endpoint in route.endpoints.items()
                },
            )
            for route in self._routes()
        ]

    def _routes(self) -> list[Route]:
        org = "/orgs/{org}"
        return [
            Route("/orgs", {"GET": self.organizations, "POST": self.create_organization}),
            Route(org, {"GET": self.organization}),
            Route(f"{org}/token/rotate", {"POST": self.rotate_token}),
            Route(f"{org}/settings", {"GET": self.settings, "PATCH": self.change_settings}),
            Route(f"{org}/workspaces", {"GET": self.workspaces, "POST": self.create_workspace}),
            Route(
                f"{org}/workspaces/{{workspace}}",
                {"PATCH": self.rename_workspace, "DELETE": self.delete_workspace},
            ),
            Route(
                f"{org}/folders/{{folder}}",
                {"PATCH": self.rename_folder, "DELETE": self.delete_folder},
            ),
            Route(
                f"{org}/workspaces/{{workspace}}/folders",
                {"GET": self.folders, "POST": self.create_folder},
            ),
            Route(f"{org}/groups/{{group}}/grants", {"GET": self.group_grants}),
            Route(
                f"{org}/groups/{{group}}/grants/{{type}}/{{id}}",
                {"PUT": self.set_group_grant, "DELETE": self.remove_group_grant},
            ),
            Route(
                f"{org}/users/{{user}}/grants/{{type}}/{{id}}",
                {"PUT": self.set_direct, "DELETE": self.remove_direct},
            ),
            Route(f"{org}/users/{{user}}/access", {"GET": self.access_of_user}),
            Route(f"{org}/users/{{user}}/access/{{type}}/{{id}}", {"GET": self.explain}),
            Route(f"{org}/workspaces/{{id}}/access", {"GET": self.who_has(TargetKind.WORKSPACE)}),
            Route(f"{org}/folders/{{id}}/access", {"GET": self.who_has(TargetKind.FOLDER)}),
            Route(f"{org}/check", {"GET": self.check(repair=False)}),
            Route(f"{org}/check/repair", {"POST": self.check(repair=True)}),
        ]

    # --- organizations and tokens ------------------------------------------------------------

    def create_organization(self, request: Request) -> Response:
        body = parse(CreateOrganization, request.json())
        organization, token = self._admin.create_organization(body.id, body.name)
        # The token is in this response and nowhere else; no cache may keep it.
        return Response(
            201,
            {"organization": _json(organization), "token": token},
            {"Cache-Control": "no-store"},
        )

    def organizations(self, request: Request) -> Response:
        page = parse(OrganizationPage, dict(request.params))
        found, after = self._admin.organizations(page.limit, page.after)
        return Response(200, {"organizations": [_json(o) for o in found], "next": after})

    def organization(self, request: Request) -> Response:
        return Response(200, _json(self._admin.organization(request.path_params["org"])))

    def rotate_token(self, request: Request) -> Response:
        body = parse(RotateToken, request.json() if request.body else {})
        hours = self._default_grace_hours if body.grace_hours is None else body.grace_hours
        token = self._admin.rotate_token(request.path_params["org"], timedelta(hours=hours))
        return Response(200, {"token": token, "graceHours": hours}, {"Cache-Control": "no-store"})

    # --- settings ----------------------------------------------------------------------------

    def settings(self, request: Request) -> Response:
        return Response(200, _json(self._admin.organization(request.path_params["org"]).settings))

    def change_settings(self, request: Request) -> Response:
        body = parse(ChangeSettings, request.json())
        settings = self._admin.update_settings(
            request.path_params["org"],
            body.allow_members_to_create_workspaces,
            body.folder_revocation,
        )
        return Response(200, _json(settings))

    # --- workspaces and folders --------------------------------------------------------------

    def create_workspace(self, request: Request) -> Response:
        body = parse(CreateWorkspace, request.json())
        workspace, _home = self._admin.create_workspace(
            request.path_params["org"], body.name, body.created_by
        )
        return Response(201, _json(workspace))

    def workspaces(self, request: Request) -> Response:
        found = self._admin.workspaces(request.path_params["org"])
        return Response(200, {"workspaces": [_json(w) for w in found]})

    def rename_workspace(self, request: Request) -> Response:
        body = parse(Rename, request.json())
        params = request.path_params
        return Response(
            200, _json(self._admin.rename_workspace(params["org"], params["workspace"], body.name))
        )

    def delete_workspace(self, request: Request) -> Response:
        """Accepted: the workspace is gone now; its folders, grants and access follow through
        the fan-out."""
        self._admin.delete_workspace(request.path_params["org"], request.path_params["workspace"])
        return Response(204)

    def rename_folder(self, request: Request) -> Response:
        body = parse(Rename, request.json())
        params = request.path_params
        return Response(
            200, _json(self._admin.rename_folder(params["org"], params["folder"], body.name))
        )

    def delete_folder(self, request: Request) -> Response:
        self._admin.delete_folder(request.path_params["org"], request.path_params["folder"])
        return Response(204)

    def create_folder(self, request: Request) -> Response:
        body = parse(CreateFolder, request.json())
        params = request.path_params
        folder = self._admin.create_folder(params["org"], params["workspace"], body.name)
        return Response(201, _json(folder))

    def folders(self, request: Request) -> Response:
        params = request.path_params
        found = self._admin.folders(params["org"], params["workspace"])
        return Response(200, {"folders": [_json(f) for f in found]})

    # --- access ------------------------------------------------------------------------------

    def set_group_grant(self, request: Request) -> Response:
        params = request.path_params
        target, level = _target(request), parse(SetLevel, request.json()).level
        self._access.set_group_grant(params["org"], params["group"], target, level)
        return Response(
            200, _grant(GroupGrant(group_id=params["group"], target=target, level=level))
        )

    def remove_group_grant(self, request: Request) -> Response:
        params = request.path_params
        self._access.set_group_grant(params["org"], params["group"], _target(request), None)
        return Response(204)

    def group_grants(self, request: Request) -> Response:
        params = request.path_params
        grants = self._access.group_grants(params["org"], params["group"])
        return Response(200, {"grants": [_grant(g) for g in grants]})

    def set_direct(self, request: Request) -> Response:
        params = request.path_params
        target, level = _target(request), parse(SetLevel, request.json()).level
        record = self._access.set_direct(params["org"], params["user"], target, level)
        return Response(200, _record(record or AccessRecord(user_id=params["user"], target=target)))

    def remove_direct(self, request: Request) -> Response:
        params = request.path_params
        self._access.set_direct(params["org"], params["user"], _target(request), None)
        return Response(204)

    def access_of_user(self, request: Request) -> Response:
        params = request.path_params
        records = self._access.access_of_user(params["org"], params["user"])
        return Response(200, {"userId": params["user"], "access": [_record(r) for r in records]})

    def explain(self, request: Request) -> Response:
        """The user's record on the target; a user without access gets a record without
        sources (level null), which is the explanation."""
        params = request.path_params
        target = _target(request)
        record = self._access.explain(params["org"], params["user"], target)
        return Response(200, _record(record or AccessRecord(user_id=params["user"], target=target)))

    def who_has(self, kind: TargetKind) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            params = request.path_params
            target = parse(Target, {"type": kind, "id": params["id"]})
            records = self._access.who_has(params["org"], target)
            groups = self._access.groups_on(params["org"], target)
            return Response(
                200,
                {
                    "target": _json(target),
                    "access": [_record(r) for r in records],
                    "groups": [_grant(g) for g in groups],
                },
            )

        return endpoint

    # --- consistency check ---------------------------------------------------------------------

    def check(self, repair: bool) -> Callable[[Request], Response]:
        """One request's share of the organization's consistency check (and repair): the
        violations found, a summary per kind, and `next`, the cursor to go on with (null: the
        walk is done)."""

        def endpoint(request: Request) -> Response:
            if self._check is None:
                raise InvalidInputError("the consistency check is not available here")
            page = parse(CheckPage, dict(request.params))
            budget = {} if page.max_seconds is None else {"budget_seconds": page.max_seconds}
            result = self._check.run(request.path_params["org"], page.cursor, repair, **budget)
            return Response(200, dumps(result))

        return endpoint


def admin_app(settings: Settings | None = None) -> ScimApp:
    """The ASGI app of the admin function, on the container's clients."""
    settings = settings or get_settings()
    access = AccessService.build(settings)
    admin = AdminService.build(access, settings)
    check = ConsistencyCheck.build(settings)
    endpoints = AdminEndpoints(admin, access, settings.token_grace_hours, check)
    return ScimApp(endpoints.routes(), settings.max_body_bytes, AdminJson())
