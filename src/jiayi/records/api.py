"""The health account's FHIR R4 API: bundles in, a resident's whole account out.

`POST /api/fhir/` takes a batch or transaction Bundle. A batch answers 200 with each entry's outcome; a
transaction answers 200 when every entry was stored and 422, naming the failing entries, when none was.
`GET /api/fhir/Patient/{id}/$everything` exports the account of a resident you may see; any other
resident answers 404, like one that does not exist. Staff state why (`reason`, `reason_detail`; a
resident reading their own account does not). Both are audited.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from jiayi import access
from jiayi.audit import export_reasons
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.records import fhir_in, fhir_out, services
from jiayi.registry import tokens
from jiayi.registry.models import Resident
from jiayi.registry.schemas import FieldErrors, Message

FHIR = "fhir"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": FHIR,
        "description": "FHIR R4 exchange of health accounts (健康档案): import batch and transaction Bundles "
        "of Patient, Encounter, Condition, Observation, MedicationRequest and MedicationStatement; export "
        "a resident's account with Patient/{id}/$everything.",
    }
]

router = Router(auth=tokens.api_auth(), tags=[FHIR])


class Issue(Schema):
    """One problem, in the shape of a FHIR OperationOutcome issue."""

    severity: str
    code: str
    diagnostics: str
    expression: list[str]


class EntryResult(Schema):
    index: int | None
    resource_type: str
    identifier: str
    status: str
    field: str
    reason: str


class ImportResult(Schema):
    """Per-entry outcomes of a bundle, with the failures also as OperationOutcome issues."""

    resourceType: str = "OperationOutcome"
    bundle_type: str
    committed: bool
    counts: dict[str, int]
    entries: list[EntryResult]
    issue: list[Issue]


def _issue(entry: services.EntryOutcome) -> dict[str, Any]:
    """The outcome as an OperationOutcome issue, its expression a FHIRPath into the posted Bundle."""
    if entry.index is None:
        where = entry.field
    elif entry.field.startswith(("entry", "request", "resourceType")):
        where = f"Bundle.entry[{entry.index}].{entry.field.removeprefix('entry.')}"
    else:
        element = entry.field.removeprefix(f"{entry.resource_type}.")
        where = f"Bundle.entry[{entry.index}].resource.{element}"
    code = "not-found" if entry.reason.startswith("no ") else "invalid"
    return {"severity": "error", "code": code, "diagnostics": entry.reason, "expression": [where]}


def _result(outcome: services.BundleOutcome) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "bundle_type": outcome.bundle_type,
        "committed": outcome.committed,
        "counts": outcome.counts(),
        "entries": outcome.entries,
        "issue": [_issue(entry) for entry in outcome.errors],
    }


def _source_system(request: HttpRequest, bundle: dict[str, Any] | bytes) -> str:
    """The sending system: the Bundle's meta.source when given, else the user posting it, so that
    re-posting the same bundle finds the entries it stored before."""
    meta = bundle.get("meta") if isinstance(bundle, dict) else None
    source = meta.get("source") if isinstance(meta, dict) else None
    if isinstance(source, str) and source.strip():
        return source.strip()[: services.SOURCE_SYSTEM_MAX_LENGTH]
    return f"user:{request.user.get_username()}"[: services.SOURCE_SYSTEM_MAX_LENGTH]


@router.post(
    "/",
    response={200: ImportResult, 400: ImportResult, 422: ImportResult, 401: Message, 403: Message},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
    },
)
def import_bundle(request: HttpRequest) -> Any:
    """Import a FHIR R4 batch or transaction Bundle into the health accounts of residents you may
    change. Entries are idempotent on their identifiers: re-posting a bundle changes nothing."""
    bundle: dict[str, Any] | bytes
    try:
        bundle = fhir_in.load_json(request.body)
    except ValueError:
        bundle = request.body  # the import reports what is wrong with it, like any other problem
    outcome = services.import_bundle(
        bundle,
        actor=request.user,
        source_system=_source_system(request, bundle),
        request=request,
        residents=access.residents_editable_by(request.user),
        committees=access.committees_assignable_by(request.user),
    )
    result = _result(outcome)
    if outcome.bundle_type == "":
        return Status(400, result)
    if outcome.bundle_type == "transaction" and not outcome.ok:
        return Status(422, result)
    return result


@router.get(
    "/Patient/{resident_id}/$everything",
    response={200: dict[str, Any], 404: Message, 401: Message, 422: FieldErrors},
)
def patient_everything(
    request: HttpRequest, resident_id: int, reason: str | None = None, reason_detail: str | None = None
) -> Any:
    """A resident's whole health account as a FHIR R4 searchset Bundle (citizen ID and phone left out).

    Staff give `reason` (one of care, referral, quality_review, resident_request, legal_duty, other) and
    `reason_detail` (their own words, 8–160 characters, no personal data); both go into the audit entry.
    Without them the answer is 422 naming the field. A resident reading their own account gives neither."""
    resident = (
        access.residents_visible_to(request.user)
        .select_related("committee", "residential_point")
        .filter(pk=resident_id)
        .first()
    )
    if resident is None:
        record(
            request=request,
            action=Action.EXPORT,
            resource_type="health_account",
            resource_id=resident_id,
            # Whether the resident exists shows in the log only, never in the answer.
            resident_id=resident_id if Resident.objects.filter(pk=resident_id).exists() else None,
            outcome=Outcome.DENIED,
            detail={"format": "fhir"},
        )
        return Status(404, {"detail": "Not Found"})
    stated = None
    if export_reasons.needs_reason(request.user):
        try:
            stated = export_reasons.require_reason(reason, reason_detail)
        except export_reasons.ReasonError as error:
            record(
                request=request,
                action=Action.EXPORT,
                resource_type="health_account",
                resource_id=resident.pk,
                resident_id=resident.pk,
                outcome=Outcome.INVALID,
                detail={"format": "fhir", "refused": f"no usable {error.field}"},
            )
            return Status(422, {"detail": [{"field": error.field, "message": error.message}]})
    bundle = fhir_out.patient_everything(resident)
    record(
        request=request,
        action=Action.EXPORT,
        resource_type="health_account",
        resource_id=resident.pk,
        resident_id=resident.pk,
        purpose=stated.purpose if stated else "own data download",
        detail={
            "format": "fhir",
            "entries": len(bundle["entry"]),
            **(stated.audit_detail() if stated else {}),
        },
    )
    return bundle
