"""The feedback API: complaints with their handling, and centres' satisfaction scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.feedback import services
from jiayi.feedback.models import Complaint, Survey
from jiayi.registry import tokens
from jiayi.registry.schemas import FieldErrors, Message

FEEDBACK = "satisfaction and complaints"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": FEEDBACK,
        "description": "Residents' complaints and suggestions (投诉与建议) under /api/feedback/ with their "
        "handling (received → assigned → resolved → closed), and satisfaction scores per centre.",
    }
]
router = Router(auth=tokens.api_auth())
NOT_FOUND = {"detail": "Not Found"}
COMMON = {401: Message, 403: Message, 422: FieldErrors}


class ComplaintIn(Schema):
    resident_id: int
    category: str
    subject: str
    text: str


class TransitionIn(Schema):
    to: str
    assigned_to_id: int | None = None
    resolution: str = ""
    note: str = ""


class ComplaintOut(Schema):
    id: int
    resident_id: int
    centre_id: int
    category: str
    subject: str
    text: str
    status: str
    received_at: datetime
    updated_at: datetime
    assigned_to_id: int | None
    resolution: str


class ScoreOut(Schema):
    centre_id: int
    centre_name: str
    responses: int
    score: float


def _errors(errors: list[tuple[str, str]]) -> dict[str, Any]:
    return {"detail": [{"field": f, "message": m} for f, m in errors]}


@router.get("/complaints", response={200: list[ComplaintOut], **COMMON}, tags=[FEEDBACK])
def list_complaints(request: HttpRequest, status: str = "") -> Any:
    """A centre manager's centre's complaints, or a resident's own, newest first (at most 500)."""
    complaints = access.complaints_visible_to(request.user)
    if status:
        complaints = complaints.filter(status=status)
    rows = list(complaints.order_by("-received_at", "-id")[:500])
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="complaint",
        detail={"status": status, "count": len(rows)},
    )
    return rows


@router.post("/complaints", response={201: ComplaintOut, 404: Message, **COMMON}, tags=[FEEDBACK])
def submit(request: HttpRequest, payload: ComplaintIn) -> Any:
    """A resident (or their household head) sends a complaint, suggestion or praise."""
    resident = access.residents_acting_for(request.user).filter(pk=payload.resident_id).first()
    if resident is None:
        record(request=request, action=Action.CREATE, resource_type="complaint", outcome=Outcome.DENIED)
        return Status(404, NOT_FOUND)
    try:
        complaint = services.submit_complaint(
            resident, category=payload.category, subject=payload.subject, text=payload.text, by=request.user
        )
    except services.FeedbackError as exc:
        return Status(422, _errors(exc.errors))
    record(
        request=request,
        action=Action.CREATE,
        resource_type="complaint",
        resource_id=complaint.pk,
        resident_id=resident.pk,
    )
    return Status(201, complaint)


@router.post(
    "/complaints/{complaint_id}/transition",
    response={200: ComplaintOut, 404: Message, **COMMON},
    tags=[FEEDBACK],
)
def move(request: HttpRequest, complaint_id: int, payload: TransitionIn) -> Any:
    """The centre manager moves a complaint on: assign it, resolve it, close it."""
    complaint: Complaint | None = access.complaints_handled_by(request.user).filter(pk=complaint_id).first()
    if complaint is None:
        record(
            request=request,
            action=Action.UPDATE,
            resource_type="complaint",
            resource_id=complaint_id,
            outcome=Outcome.DENIED,
        )
        return Status(404, NOT_FOUND)
    assignee = None
    if payload.assigned_to_id is not None:
        assignee = access.family_doctors_assignable_by(request.user).filter(pk=payload.assigned_to_id).first()
        if assignee is None:
            return Status(422, _errors([("assigned_to_id", "not a staff member of your centre")]))
    try:
        moved = services.transition(
            complaint,
            payload.to,
            by=request.user,
            assignee=assignee or (complaint.assigned_to if payload.to != "assigned" else None),
            resolution=payload.resolution,
            note=payload.note,
        )
    except services.FeedbackError as exc:
        return Status(422, _errors(exc.errors))
    record(
        request=request,
        action=Action.UPDATE,
        resource_type="complaint",
        resource_id=moved.pk,
        resident_id=moved.resident_id,
        detail={"to": payload.to},
    )
    return moved


@router.get(
    "/surveys/{survey_id}/scores", response={200: list[ScoreOut], 404: Message, **COMMON}, tags=[FEEDBACK]
)
def scores(request: HttpRequest, survey_id: int) -> Any:
    """Satisfaction per centre (0–100) for the centres you may see: a manager's own, all for analysts."""
    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is None:
        return Status(404, NOT_FOUND)
    centres = access.survey_centres_visible_to(request.user)
    return [
        {"centre_id": s.centre_id, "centre_name": s.centre_name, "responses": s.responses, "score": s.score}
        for s in services.centre_scores(survey, centres)
    ]
