"""Health-management pages: the worklist with its inline actions, a resident's care page (assessment,
follow-ups, contacts, plan), the follow-up form, the reminder outbox and the yearly reports.

Scoped through jiayi.access: a resident or follow-up outside the user's scope is a 404, audited as
denied. Writes go through `jiayi.care.services`; htmx posts answer with the refreshed fragment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.care import panel, plan, reminders, report, services, tasks
from jiayi.care.choices import (
    ContactChannel,
    ContactOutcome,
    DietPattern,
    DrinkingFrequency,
    ExerciseFrequency,
    FollowUpChannel,
    MedicationAdherence,
    Programme,
    SaltIntake,
    SelfCareAbility,
    SmokingStatus,
)
from jiayi.care.models import (
    Assessment,
    CareTask,
    Contact,
    ElderlyCareYear,
    FollowUp,
    PlanItem,
    ProgrammeEnrolment,
    ReportBatch,
    YearlyReport,
)
from jiayi.care.rules import DangerSymptom
from jiayi.care.worklist import WorklistItem
from jiayi.registry.identity import age_on, mask_name
from jiayi.registry.models import Resident
from jiayi.web.guards import page_guard
from jiayi.web.templatetags.jiayi_tags import lang_label

View = Callable[..., HttpResponse]
LIST_LIMIT = 50  # rows per bucket: a doctor works down the top of each list, high risk first


def _today() -> date:
    return timezone.localdate()


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


# Signed in, answers kept out of caches; each view scopes what it shows through `jiayi.access`.
no_store = page_guard()


def _denied(request: HttpRequest, resource_type: str, pk: object) -> Http404:
    record(
        request=request,
        action=Action.READ,
        resource_type=resource_type,
        resource_id=pk,
        outcome=Outcome.DENIED,
    )
    return Http404()


def _scoped_resident(request: HttpRequest, pk: int, scope: QuerySet[Resident]) -> Resident:
    resident = scope.filter(pk=pk).first()
    if resident is None:
        raise _denied(request, "care_resident", pk)
    return resident


def _scoped_follow_up(request: HttpRequest, pk: int) -> FollowUp:
    follow_up = (
        access.follow_ups_editable_by(request.user)
        .select_related("resident", "enrolment")
        .filter(pk=pk)
        .first()
    )
    if follow_up is None:
        raise _denied(request, "care_follow_up", pk)
    return follow_up


def _choices(enum: Any) -> list[tuple[str, str]]:
    return [(value, lang_label(label)) for value, label in enum.choices]


# Index and worklist --------------------------------------------------------------------------------------


@require_GET
@no_store
def index(request: HttpRequest) -> HttpResponse:
    """The menu entry: staff go to their worklist, a resident to their yearly reports."""
    if access.can_view_worklist(request.user):
        return redirect("care:worklist")
    if access.own_care_resident(request.user) is not None:
        return redirect("care:me")
    raise Http404


BUCKETS: Final = ("overdue", "today", "week")


def _bucket_items(result: panel.Worklist, key: str) -> list[WorklistItem]:
    return {"overdue": result.overdue, "today": result.due_today, "week": result.this_week}[key]


def _worklist_rows(items: list[WorklistItem], *, key: str, start: int, today: date) -> list[dict[str, Any]]:
    """Table rows for `items`, the ones shown from position `start` of bucket `key`."""
    ids = {item.resident_id for item in items}
    people = {
        row["id"]: row for row in Resident.objects.filter(pk__in=ids).values("id", "name", "birth_date")
    }
    contact_url = panel._url_maker("care:contact")
    resident_url = panel._url_maker("care:resident")
    out = []
    for n, item in enumerate(items, start=start + 1):
        person = people.get(item.resident_id)
        days = (today - item.due_on).days
        overdue = ngettext("%(count)d day overdue", "%(count)d days overdue", days) % {"count": days}
        out.append(
            {
                "n": f"{key}-{n}",
                "item": item,
                "name": mask_name(person["name"]) if person else "",
                "age": age_on(person["birth_date"], today) if person else "",
                "overdue": overdue if days > 0 else "",
                "resident_url": resident_url(item.resident_id),
                "contact_url": contact_url(item.resident_id),
                "reschedule_url": item.url + "reschedule/" if item.kind == "follow_up" else "",
            }
        )
    return out


def _more_url(key: str, offset: int, team: bool) -> str:
    query = f"?bucket={key}&offset={offset}"
    return reverse("care:worklist") + query + ("&scope=team" if team else "")


@require_GET
@no_store
def worklist(request: HttpRequest) -> HttpResponse:
    """Today's worklist: a count per bucket and its first rows, high risk and oldest first; htmx asks
    for the next rows of a bucket with `bucket` and `offset`."""
    staff = access.worklist_staff(request.user)
    if staff is None:
        raise Http404
    today = _today()
    team = request.GET.get("scope") == "team"
    result = panel.build_worklist(staff, today, team=team)
    bucket = request.GET.get("bucket", "")
    scope = "team" if team else "mine"
    if bucket:
        if bucket not in BUCKETS:
            raise Http404
        try:
            offset = max(0, int(request.GET.get("offset", "0")))
        except ValueError:
            raise Http404 from None
        items = _bucket_items(result, bucket)
        shown = items[offset : offset + LIST_LIMIT]
        after = offset + len(shown)
        record(
            request=request,
            action=Action.READ,
            resource_type="care_worklist",
            detail={"items": len(shown), "bucket": bucket, "offset": offset, "scope": scope},
        )
        return render(
            request,
            "care/_worklist_rows.html",
            {
                "key": bucket,
                "rows": _worklist_rows(shown, key=bucket, start=offset, today=today),
                "more_url": _more_url(bucket, after, team) if after < len(items) else "",
                "remaining": len(items) - after,
            },
        )
    sections = []
    for key, label in zip(BUCKETS, (_("Overdue"), _("Due today"), _("This week")), strict=True):
        items = _bucket_items(result, key)
        shown = items[:LIST_LIMIT]
        sections.append(
            {
                "key": key,
                "label": label,
                "total": len(items),
                "high_risk": sum(1 for item in items if item.high_risk),
                "rows": _worklist_rows(shown, key=key, start=0, today=today),
                "more_url": _more_url(key, len(shown), team) if len(shown) < len(items) else "",
                "remaining": len(items) - len(shown),
            }
        )
    record(
        request=request,
        action=Action.READ,
        resource_type="care_worklist",
        detail={"items": result.total, "scope": scope},
    )
    return render(
        request,
        "care/worklist.html",
        {
            "today": today,
            "team": team,
            "sections": sections,
            "limit": LIST_LIMIT,
            "queued": reminders.queued_count(staff),
        },
    )


@require_POST
@no_store
def outbox(request: HttpRequest) -> HttpResponse:
    """Queue reminder messages for the panel's due and overdue follow-ups (idempotent per visit date)."""
    staff = access.worklist_staff(request.user)
    if staff is None:
        raise Http404
    queued = reminders.do_queue_follow_up_reminders(request.user, staff, today=_today(), request=request)
    message = _("%(count)d reminders queued.") % {"count": queued}
    if _is_htmx(request):
        return HttpResponse(f'<p id="outbox-result" class="notice ok">{message}</p>')
    return redirect("care:worklist")


# Follow-up ----------------------------------------------------------------------------------------------


class FollowUpForm(forms.Form):
    performed_on = forms.DateField(
        label=gettext_lazy("Visit date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Follow-up channel"), choices=lambda: _choices(FollowUpChannel)
    )
    sbp = forms.IntegerField(label=gettext_lazy("Systolic BP (mmHg)"), required=False)
    dbp = forms.IntegerField(label=gettext_lazy("Diastolic BP (mmHg)"), required=False)
    fasting_glucose_mmol = forms.FloatField(label=gettext_lazy("Fasting glucose (mmol/L)"), required=False)
    heart_rate = forms.IntegerField(label=gettext_lazy("Heart rate (/min)"), required=False)
    danger_symptoms = forms.MultipleChoiceField(
        label=gettext_lazy("Danger symptoms"),
        required=False,
        choices=lambda: [(s.value, s.value) for s in DangerSymptom],
        widget=forms.CheckboxSelectMultiple,
    )
    medication_adherence = forms.ChoiceField(
        label=gettext_lazy("Medication adherence"), choices=lambda: _choices(MedicationAdherence)
    )
    adverse_reaction = forms.BooleanField(label=gettext_lazy("Adverse drug reaction"), required=False)
    new_or_worse_complication = forms.BooleanField(
        label=gettext_lazy("New or worse complication"), required=False
    )
    cigarettes_per_day = forms.IntegerField(
        label=gettext_lazy("Cigarettes a day"), required=False, min_value=0
    )
    exercise_minutes_per_week = forms.IntegerField(
        label=gettext_lazy("Exercise minutes a week"), required=False, min_value=0
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=200)


DANGER_LABELS = {
    "altered_consciousness": "意识改变",
    "severe_headache": "剧烈头痛",
    "vomiting": "呕吐",
    "blurred_vision": "视力模糊",
    "chest_tightness": "胸闷",
    "palpitations": "心悸",
    "cannot_lie_flat": "喘憋不能平卧",
}


def _follow_up_input(form: FollowUpForm) -> services.FollowUpInput:
    data = form.cleaned_data
    lifestyle = {
        key: data[key]
        for key in ("cigarettes_per_day", "exercise_minutes_per_week")
        if data.get(key) is not None
    }
    return services.FollowUpInput(
        performed_on=data["performed_on"],
        channel=data["channel"],
        sbp=data["sbp"],
        dbp=data["dbp"],
        fasting_glucose_mmol=data["fasting_glucose_mmol"],
        heart_rate=data["heart_rate"],
        danger_symptoms=frozenset(data["danger_symptoms"]),
        medication_adherence=data["medication_adherence"],
        adverse_reaction=data["adverse_reaction"],
        new_or_worse_complication=data["new_or_worse_complication"],
        lifestyle=lifestyle,
        note=data["note"],
    )


def _add_errors(form: forms.Form, errors: list[tuple[str, str]]) -> None:
    for name, message in errors:
        form.add_error(name if name in form.fields else None, message)


@require_http_methods(["GET", "POST"])
@no_store
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    item = _scoped_follow_up(request, pk)
    inline = _is_htmx(request)
    outcome: services.FollowUpOutcome | None = None
    if request.method == "POST":
        form = FollowUpForm(request.POST)
        if form.is_valid():
            try:
                outcome = services.do_record_follow_up(
                    request.user, item, _follow_up_input(form), today=_today(), request=request
                )
            except services.CareValidationError as exc:
                _add_errors(form, exc.errors)
            except services.CareStateError as exc:
                form.add_error(None, str(exc))
        if outcome is not None and not inline:
            return redirect(reverse("care:resident", args=[item.resident_id]) + "#follow-ups")
    else:
        form = FollowUpForm(
            initial={
                "performed_on": _today(),
                "channel": FollowUpChannel.CLINIC,
                "medication_adherence": MedicationAdherence.REGULAR,
            }
        )
        record(
            request=request,
            action=Action.READ,
            resource_type="care_follow_up",
            resource_id=item.pk,
            resident_id=item.resident_id,
        )
    context = {
        "follow_up": item,
        "form": form,
        "outcome": outcome,
        "danger_labels": DANGER_LABELS,
        "resident_label": mask_name(item.resident.name),
        "hypertension": item.programme == Programme.HYPERTENSION,
        "programme_label": lang_label(Programme(item.programme).label),
    }
    template = "care/_follow_up_form.html" if inline else "care/follow_up.html"
    return render(request, template, context, status=200)


@require_POST
@no_store
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    item = _scoped_follow_up(request, pk)
    error = ""
    try:
        new_date = date.fromisoformat(request.POST.get("scheduled_on", ""))
        services.do_reschedule(request.user, item, new_date, today=_today(), request=request)
    except ValueError:
        error = _("Enter a valid date.")
    except services.CareValidationError as exc:
        error = "; ".join(message for _name, message in exc.errors)
    except services.CareStateError as exc:
        error = str(exc)
    if _is_htmx(request):
        return render(
            request, "care/_action_result.html", {"error": error, "follow_up": item, "kind": "reschedule"}
        )
    return redirect("care:worklist")


# Contacts ------------------------------------------------------------------------------------------------


@require_POST
@no_store
def contact(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _scoped_resident(request, pk, access.care_residents_editable_by(request.user))
    error = ""
    logged: services.ContactLogged | None = None
    try:
        logged = services.do_log_contact_attempt(
            request.user,
            resident,
            channel=request.POST.get("channel", ContactChannel.PHONE),
            outcome=request.POST.get("outcome", ContactOutcome.REACHED),
            note=request.POST.get("note", ""),
            at=timezone.now(),
            request=request,
        )
    except services.CareValidationError as exc:
        error = "; ".join(f"{name}: {message}" for name, message in exc.errors)
    if _is_htmx(request):
        return render(
            request,
            "care/_action_result.html",
            {
                "error": error,
                "kind": "contact",
                "outcome": request.POST.get("outcome", ""),
                "next_attempt_on": logged.next_attempt_on if logged else None,
                "home_visit": bool(logged and logged.home_visit),
            },
        )
    return redirect(reverse("care:resident", args=[resident.pk]) + "#contacts")


# Resident care page ---------------------------------------------------------------------------------------


class AssessmentForm(forms.Form):
    performed_on = forms.DateField(
        label=gettext_lazy("Assessment date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    smoking = forms.ChoiceField(label=gettext_lazy("Smoking"), choices=lambda: _choices(SmokingStatus))
    cigarettes_per_day = forms.IntegerField(label=gettext_lazy("Cigarettes a day"), min_value=0, initial=0)
    drinking = forms.ChoiceField(label=gettext_lazy("Drinking"), choices=lambda: _choices(DrinkingFrequency))
    exercise = forms.ChoiceField(label=gettext_lazy("Exercise"), choices=lambda: _choices(ExerciseFrequency))
    diet = forms.ChoiceField(label=gettext_lazy("Diet"), choices=lambda: _choices(DietPattern))
    salt_intake = forms.ChoiceField(label=gettext_lazy("Salt intake"), choices=lambda: _choices(SaltIntake))
    self_care_ability = forms.ChoiceField(
        label=gettext_lazy("Self-care ability"), choices=lambda: _choices(SelfCareAbility)
    )
    symptoms = forms.CharField(label=gettext_lazy("Symptoms"), required=False, max_length=200)
    history = forms.CharField(
        label=gettext_lazy("History (ICD-10, comma separated)"), required=False, max_length=200
    )
    has_hypertension = forms.BooleanField(label=gettext_lazy("Hypertension"), required=False)
    has_diabetes = forms.BooleanField(label=gettext_lazy("Diabetes"), required=False)
    on_bp_treatment = forms.BooleanField(label=gettext_lazy("On BP treatment"), required=False)
    prior_stroke_or_mi = forms.BooleanField(label=gettext_lazy("Prior stroke or MI"), required=False)
    discharged_or_in_rehab = forms.BooleanField(
        label=gettext_lazy("Discharged or in rehabilitation"), required=False
    )
    family_history_ascvd = forms.BooleanField(
        label=gettext_lazy("Family history: cardiovascular"), required=False
    )
    family_history_diabetes = forms.BooleanField(
        label=gettext_lazy("Family history: diabetes"), required=False
    )
    family_history_hypertension = forms.BooleanField(
        label=gettext_lazy("Family history: hypertension"), required=False
    )
    height_cm = forms.FloatField(label=gettext_lazy("Height (cm)"), required=False)
    weight_kg = forms.FloatField(label=gettext_lazy("Weight (kg)"), required=False)
    bmi = forms.FloatField(label=gettext_lazy("BMI"), required=False)
    waist_cm = forms.FloatField(label=gettext_lazy("Waist (cm)"), required=False)
    sbp = forms.IntegerField(label=gettext_lazy("Systolic BP (mmHg)"), required=False)
    dbp = forms.IntegerField(label=gettext_lazy("Diastolic BP (mmHg)"), required=False)
    heart_rate = forms.IntegerField(label=gettext_lazy("Heart rate (/min)"), required=False)
    fasting_glucose_mmol = forms.FloatField(label=gettext_lazy("Fasting glucose (mmol/L)"), required=False)
    total_cholesterol_mmol = forms.FloatField(
        label=gettext_lazy("Total cholesterol (mmol/L)"), required=False
    )
    hdl_mmol = forms.FloatField(label=gettext_lazy("HDL cholesterol (mmol/L)"), required=False)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


def _assessment_input(form: AssessmentForm) -> services.AssessmentInput:
    data = dict(form.cleaned_data)
    data["symptoms"] = _split(data.get("symptoms") or "")
    data["history"] = _split(data.get("history") or "")
    return services.AssessmentInput(**data)


def _care_context(
    request: HttpRequest, resident: Resident, assessment_form: AssessmentForm | None
) -> dict[str, Any]:
    today = _today()
    if assessment_form is None:
        initial = services.prefill_assessment(resident, today=today)
        initial["history"] = ", ".join(initial.get("history", []))
        initial.update(
            performed_on=today,
            smoking=SmokingStatus.NEVER,
            drinking=DrinkingFrequency.NEVER,
            exercise=ExerciseFrequency.WEEKLY,
            diet=DietPattern.BALANCED,
            salt_intake=SaltIntake.MEDIUM,
            self_care_ability=SelfCareAbility.INDEPENDENT,
            cigarettes_per_day=0,
        )
        assessment_form = AssessmentForm(initial=initial)
    year, quarter = plan.quarter_of(today)
    quarters = []
    for offset in range(4):
        q_year, q = year, quarter - offset
        while q < 1:
            q += 4
            q_year -= 1
        status = services.quarter_contact_statuses([resident.pk], q_year, q)[resident.pk]
        quarters.append({"label": f"{q_year} Q{q}", "status": status})
    return {
        "resident": resident,
        "resident_label": mask_name(resident.name),
        "age": age_on(resident.birth_date, today),
        "today": today,
        "assessments": Assessment.objects.filter(resident=resident).order_by("-year")[:5],
        "plan_items": PlanItem.objects.filter(resident=resident, done_on__isnull=True).order_by("due_on")[
            :30
        ],
        "enrolments": ProgrammeEnrolment.objects.filter(resident=resident).order_by("-enrolled_on"),
        "follow_ups": FollowUp.objects.filter(resident=resident).order_by("-scheduled_on", "-id")[:20],
        "contacts": Contact.objects.filter(resident=resident).order_by("-at")[:10],
        "elderly_years": ElderlyCareYear.objects.filter(resident=resident).order_by("-year")[:5],
        "tasks": CareTask.objects.filter(resident=resident).order_by("-created_at")[:10],
        "reports": YearlyReport.objects.filter(resident=resident).order_by("-year").only("id", "year"),
        "report_year": today.year,
        "quarters": quarters,
        "form": assessment_form,
        "can_edit": access.care_residents_editable_by(request.user).filter(pk=resident.pk).exists(),
        "contact_channels": _choices(ContactChannel),
    }


@require_GET
@no_store
def resident_care(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _scoped_resident(request, pk, access.care_residents_visible_to(request.user))
    record(request=request, action=Action.READ, resource_type="care_resident", resource_id=pk, resident_id=pk)
    return render(request, "care/resident.html", _care_context(request, resident, None))


@require_POST
@no_store
def assessment(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _scoped_resident(request, pk, access.care_residents_editable_by(request.user))
    form = AssessmentForm(request.POST)
    if form.is_valid():
        try:
            services.do_record_assessment(
                request.user, resident, _assessment_input(form), today=_today(), request=request
            )
        except services.CareValidationError as exc:
            _add_errors(form, exc.errors)
        else:
            return redirect(reverse("care:resident", args=[pk]) + "#assessment")
    return render(request, "care/resident.html", _care_context(request, resident, form), status=422)


@require_POST
@no_store
def enrol(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _scoped_resident(request, pk, access.care_residents_editable_by(request.user))
    services.do_enrol_from_diagnoses(request.user, resident, today=_today(), request=request)
    return redirect(reverse("care:resident", args=[pk]) + "#programmes")


# Yearly reports ------------------------------------------------------------------------------------------


def _pdf(report_row: YearlyReport) -> HttpResponse:
    response = HttpResponse(bytes(report_row.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="health-report-{report_row.year}.pdf"'
    return response


@require_GET
@no_store
def me(request: HttpRequest) -> HttpResponse:
    resident = access.own_care_resident(request.user)
    if resident is None:
        raise Http404
    record(request=request, action=Action.READ, resource_type="care_reports", resident_id=resident.pk)
    reports = (
        YearlyReport.objects.filter(resident=resident).order_by("-year").only("id", "year", "generated_at")
    )
    return render(request, "care/me.html", {"reports": reports, "resident_label": mask_name(resident.name)})


@require_GET
@no_store
def my_report(request: HttpRequest, year: int) -> HttpResponse:
    resident = access.own_care_resident(request.user)
    if resident is None:
        raise Http404
    found = YearlyReport.objects.filter(resident=resident, year=year).first()
    if found is None:
        raise Http404
    record(
        request=request,
        action=Action.READ,
        resource_type="care_report",
        resource_id=found.pk,
        resident_id=resident.pk,
    )
    return _pdf(found)


@require_http_methods(["GET", "POST"])
@no_store
def resident_report(request: HttpRequest, pk: int, year: int) -> HttpResponse:
    """A resident's yearly report for their care team: GET reads it (a preview until it is issued),
    POST (re)generates and stores it."""
    if request.method == "POST":
        resident = _scoped_resident(request, pk, access.care_residents_editable_by(request.user))
        generated = report.do_generate_report(resident, year)
        record(
            request=request,
            action=Action.GENERATE,
            resource_type="care_report",
            resource_id=generated.pk,
            resident_id=pk,
        )
        return redirect(reverse("care:resident", args=[pk]) + "#reports")
    resident = _scoped_resident(request, pk, access.care_residents_visible_to(request.user))
    found = YearlyReport.objects.filter(resident=resident, year=year).first()
    if found is None:
        # Not issued yet: the team previews the report as it would be today, without storing it.
        found = YearlyReport(
            resident=resident, year=year, pdf=report.render_pdf(report.gather(resident, year))
        )
    record(
        request=request,
        action=Action.READ,
        resource_type="care_report",
        resource_id=found.pk or "",
        resident_id=pk,
    )
    return _pdf(found)


@require_http_methods(["GET", "POST"])
@no_store
def report_batches(request: HttpRequest) -> HttpResponse:
    """A centre manager starts the yearly reports of the whole centre and follows their progress."""
    if not access.can_generate_report_batches(request.user):
        raise Http404
    account = access.account_of(request.user)
    assert account is not None
    centre = access.centre_of(account)
    assert centre is not None
    if request.method == "POST":
        try:
            year = int(request.POST.get("year", ""))
        except ValueError:
            year = _today().year - 1
        user = request.user if isinstance(request.user, User) else None
        batch = ReportBatch.objects.create(centre=centre, year=year, requested_by=user)
        record(
            request=request,
            action=Action.GENERATE,
            resource_type="care_report_batch",
            resource_id=batch.pk,
            detail={"year": year},
        )
        tasks.generate_centre_reports.enqueue(batch.pk)
        return redirect("care:report_batches")
    batches = ReportBatch.objects.filter(centre=centre).order_by("-created_at")[:20]
    return render(request, "care/batches.html", {"batches": batches, "year": _today().year, "centre": centre})
