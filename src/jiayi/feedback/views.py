"""Feedback pages: residents answer the satisfaction survey and send complaints or suggestions at
/me/feedback/; the centre manager handles complaints and reads the centre's scores at /feedback/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.feedback import services
from jiayi.feedback.models import Category, Complaint, Status, Survey
from jiayi.registry.identity import mask_name


def _open_survey() -> Survey | None:
    today = timezone.localdate()
    return (
        Survey.objects.filter(active=True, opens_on__lte=today, closes_on__gte=today)
        .order_by("-opens_on")
        .first()
    )


@login_required
@require_http_methods(["GET", "POST"])
def me(request: HttpRequest) -> HttpResponse:
    resident = access.own_health_account(request.user)
    if resident is None or not access.can_submit_feedback(request.user):
        raise Http404
    survey = _open_survey()
    answered = survey is not None and survey.responses.filter(resident=resident).exists()
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        try:
            if request.POST.get("form") == "survey" and survey is not None:
                scores = {q.pk: int(request.POST.get(f"q{q.pk}") or 0) for q in services.questions_of(survey)}
                services.submit_response(survey, resident, scores, comment=request.POST.get("comment", ""))
                messages.success(request, _("Thank you for answering the survey."))
            else:
                services.submit_complaint(
                    resident,
                    category=request.POST.get("category", ""),
                    subject=request.POST.get("subject", ""),
                    text=request.POST.get("text", ""),
                    by=request.user,
                )
                messages.success(request, _("Received. The centre will reply to you."))
            record(request=request, action=Action.CREATE, resource_type="feedback", resident_id=resident.pk)
            return redirect("feedback:me")
        except (services.FeedbackError, ValueError) as exc:
            errors = exc.errors if isinstance(exc, services.FeedbackError) else [("form", str(exc))]
    complaints = list(resident.complaints.prefetch_related("events").order_by("-received_at"))
    record(request=request, action=Action.READ, resource_type="feedback", resident_id=resident.pk)
    return render(
        request,
        "feedback/me.html",
        {
            "survey": survey if not answered else None,
            "answered": answered,
            "questions": services.questions_of(survey) if survey is not None else [],
            "complaints": complaints,
            "categories": Category.choices,
            "errors": errors,
            "scale": range(5, 0, -1),
        },
    )


@login_required
def centre(request: HttpRequest) -> HttpResponse:
    if not access.can_manage_feedback(request.user):
        raise Http404
    status = request.GET.get("status", "")
    complaints = access.complaints_visible_to(request.user).select_related("resident", "assigned_to")
    if status in Status.values:
        complaints = complaints.filter(status=status)
    rows = [
        {"complaint": c, "name": mask_name(c.resident.name)}
        for c in complaints.order_by("-received_at")[:200]
    ]
    survey = Survey.objects.order_by("-year", "-opens_on").first()
    centres = list(access.survey_centres_visible_to(request.user))
    scores = services.centre_scores(survey, centres) if survey is not None else []
    questions = services.questions_of(survey) if survey is not None else []
    record(request=request, action=Action.SEARCH, resource_type="complaint", detail={"status": status})
    return render(
        request,
        "feedback/centre.html",
        {
            "rows": rows,
            "status": status,
            "statuses": Status.choices,
            "survey": survey,
            "scores": [(s, [s.by_question.get(q.pk) for q in questions]) for s in scores],
            "questions": questions,
        },
    )


def _complaint(request: HttpRequest, pk: int) -> Complaint:
    complaint = (
        access.complaints_handled_by(request.user).select_related("resident", "centre").filter(pk=pk).first()
    )
    if complaint is None:
        record(
            request=request,
            action=Action.READ,
            resource_type="complaint",
            resource_id=pk,
            outcome=Outcome.DENIED,
        )
        raise Http404
    return complaint


@login_required
def complaint(request: HttpRequest, pk: int) -> HttpResponse:
    item = _complaint(request, pk)
    record(
        request=request,
        action=Action.READ,
        resource_type="complaint",
        resource_id=pk,
        resident_id=item.resident_id,
    )
    return render(
        request,
        "feedback/complaint.html",
        {
            "complaint": item,
            "name": mask_name(item.resident.name),
            "events": item.events.select_related("by").order_by("at", "id"),
            "next": [(s, label) for s, label in Status.choices if s in services.TRANSITIONS[item.status]],
            "staff": access.family_doctors_assignable_by(request.user).filter(active=True).order_by("name"),
        },
    )


@login_required
@require_POST
def transition(request: HttpRequest, pk: int) -> HttpResponse:
    item = _complaint(request, pk)
    assignee = None
    raw = request.POST.get("assigned_to", "")
    if raw:
        assignee = (
            access.family_doctors_assignable_by(request.user).filter(pk=raw if raw.isdigit() else 0).first()
        )
    try:
        services.transition(
            item,
            request.POST.get("to", ""),
            by=request.user,
            assignee=assignee or (item.assigned_to if request.POST.get("to") != Status.ASSIGNED else None),
            resolution=request.POST.get("resolution", ""),
            note=request.POST.get("note", ""),
        )
    except services.FeedbackError as exc:
        for _field, message in exc.errors:
            messages.error(request, message)
        return redirect("feedback:complaint", pk=pk)
    record(
        request=request,
        action=Action.UPDATE,
        resource_type="complaint",
        resource_id=pk,
        resident_id=item.resident_id,
    )
    messages.success(request, _("Saved."))
    return redirect("feedback:complaint", pk=pk)
