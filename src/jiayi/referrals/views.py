"""Referral pages: the hospital referral desk, the centre's referrals both ways, the family doctor's
referral form with its slot picker (htmx), and a referral with the actions the user may take.

Scoped through jiayi.access like the API: a referral out of reach is a 404, indistinguishable from a
missing one, and audited as denied. Residents appear with masked names in every list.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.referrals import downloads, files, indicators, services
from jiayi.referrals.choices import (
    URGENCY_RANK,
    AppointmentStatus,
    Destination,
    Direction,
    Pool,
    ReferralStatus,
    RequestKind,
    SlotStatus,
    Urgency,
)
from jiayi.referrals.models import Appointment, Department, Referral, Slot
from jiayi.registry.models import Institution
from jiayi.web.guards import page_guard
from jiayi.web.templatetags.jiayi_tags import lang_label

SLOT_DAYS = 14
MAX_PICKER_SLOTS = 40
ATTACHMENTS_FIELD = "attachments"
DESK_STATUSES = (ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.BOOKED, ReferralStatus.SEEN)


# Referral pages are for the clinical roles and referral desks; anyone else gets a 404.
referral_page = page_guard(access.can_view_referral_pages, audit_as="referral")


def _with_relations(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    return referrals.select_related(
        "resident", "family_doctor", "centre", "hospital", "department", "appointment__slot"
    )


def _audit_list(request: HttpRequest, rows: list[Referral]) -> None:
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="referral",
        detail={"resident_ids": sorted({r.resident_id for r in rows})},
    )


@referral_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The desk's page for a referral desk, the centre's referrals for the clinical roles."""
    if access.can_work_referral_desk(request.user):
        return redirect("referrals:desk")
    picked = request.GET.get("resident", "")
    if picked.isdigit():
        return redirect("referrals:new", pk=int(picked))
    return centre(request)


def centre(request: HttpRequest) -> HttpResponse:
    visible = _with_relations(access.referrals_visible_to(request.user))
    up = list(visible.filter(direction=Direction.UP).order_by("-created_at", "-id")[:100])
    down = list(visible.filter(direction=Direction.DOWN).order_by("-created_at", "-id")[:100])
    _audit_list(request, up + down)
    referable = (
        access.residents_referable_by(request.user).order_by("id")[:200]
        if access.can_refer(request.user)
        else []
    )
    return render(
        request,
        "referrals/centre.html",
        {"up": up, "down": down, "referable": referable, "can_refer": access.can_refer(request.user)},
    )


@referral_page
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """Incoming referrals by priority, reserved-slot use per centre, and no-shows, for the desk's hospital."""
    if not access.can_work_referral_desk(request.user):
        raise Http404
    account = access.account_of(request.user)
    assert account is not None
    assert account.institution is not None
    hospital: Institution = account.institution
    incoming = list(
        _with_relations(
            access.referrals_handled_by_desk(request.user).filter(status__in=DESK_STATUSES)
        ).prefetch_related("files")[:300]
    )
    incoming.sort(
        key=lambda r: (r.status == ReferralStatus.SEEN, URGENCY_RANK[Urgency(r.urgency)], r.created_at)
    )
    _audit_list(request, incoming)
    now = timezone.now()
    since = now - timedelta(days=30)
    use_rows = (
        Appointment.objects.filter(
            slot__hospital=hospital, pool=Pool.RESERVED, slot__start__gte=since, family_doctor__isnull=False
        )
        .select_related("family_doctor__institution__parent")
        .only("status", "family_doctor__institution__name", "family_doctor__institution__parent__name")
    )
    per_centre: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for appointment in use_rows:
        assert appointment.family_doctor is not None
        name = appointment.family_doctor.institution.centre.name
        per_centre[name][appointment.status] += 1
    centres = [
        {
            "name": name,
            "booked": counts[AppointmentStatus.BOOKED],
            "seen": counts[AppointmentStatus.FULFILLED],
            "no_show": counts[AppointmentStatus.NO_SHOW],
            "cancelled": counts[AppointmentStatus.CANCELLED],
        }
        for name, counts in sorted(per_centre.items())
    ]
    no_shows = list(
        Appointment.objects.filter(slot__hospital=hospital, status=AppointmentStatus.NO_SHOW)
        .select_related("resident", "slot__department")
        .order_by("-slot__start")[:20]
    )
    use = indicators.reserved_slot_use(since, now + timedelta(days=SLOT_DAYS)).get(hospital.pk)
    free_reserved = Slot.objects.filter(
        hospital=hospital, pool=Pool.RESERVED, status=SlotStatus.FREE, start__gt=now
    ).count()
    return render(
        request,
        "referrals/desk.html",
        {
            "hospital": hospital,
            "incoming": incoming,
            "centres": centres,
            "no_shows": no_shows,
            "use": use,
            "free_reserved": free_reserved,
        },
    )


class ReferralForm(forms.Form):
    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=gettext_lazy("Department"))
    urgency = forms.ChoiceField(
        choices=Urgency.choices, initial=Urgency.ROUTINE, label=gettext_lazy("Urgency")
    )
    request_kind = forms.ChoiceField(
        choices=RequestKind.choices, initial=RequestKind.VISIT, label=gettext_lazy("Request")
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=services.REASON_MAX_LENGTH,
        label=gettext_lazy("Reason"),
    )
    slot = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "中文 English" labels, shown in the page's language.
        for name, choices in (("urgency", Urgency.choices), ("request_kind", RequestKind.choices)):
            self.fields[name].choices = [(value, lang_label(label)) for value, label in choices]  # type: ignore[attr-defined]
        departments = Department.objects.filter(active=True).select_related("hospital")
        self.fields["department"].queryset = departments.order_by("hospital__code", "code")  # type: ignore[attr-defined]
        self.fields["department"].label_from_instance = lambda d: f"{d.hospital.name} · {d.name}"  # type: ignore[attr-defined]


@referral_page
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest, pk: int) -> HttpResponse:
    """The family doctor's referral form for a signed resident, with the slot picker."""
    resident = access.residents_referable_by(request.user).filter(pk=pk).first()
    if resident is None:
        record(request=request, action=Action.CREATE, resource_type="referral", outcome=Outcome.DENIED)
        raise Http404
    account = access.account_of(request.user)
    assert account is not None
    assert account.staff is not None
    form = ReferralForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        department: Department = form.cleaned_data["department"]
        draft = services.UpReferralDraft(
            hospital=department.hospital,
            department=department,
            reason=form.cleaned_data["reason"],
            urgency=form.cleaned_data["urgency"],
            request_kind=form.cleaned_data["request_kind"],
        )
        slot_id = request.POST.get("slot") or None
        try:
            referral = services.do_create_up_referral(
                request.user,
                resident,
                account.staff,
                draft,
                uploads=request.FILES.getlist(ATTACHMENTS_FIELD),
                request=request,
            )
            if "send" in request.POST:
                referral = services.do_send(
                    request.user, referral, slot_id=int(slot_id) if slot_id else None, request=request
                )
        except services.SlotUnavailable:
            error = _("The slot is no longer available; the referral was kept as a draft. Pick another slot.")
        except services.ReferralValidationError as exc:
            error = _validation_message(exc)
        except ValueError:
            error = _("Pick a slot from the list.")
        else:
            messages.success(request, _("Referral saved."))
            return redirect("referrals:detail", pk=referral.pk)
    return render(
        request,
        "referrals/new.html",
        {"resident": resident, "form": form, "error": error, **_upload_context()},
        status=422 if error or form.errors else 200,
    )


@referral_page
@require_GET
def slots(request: HttpRequest) -> HttpResponse:
    """The slot picker (htmx): free slots of a department for the next fortnight; family doctors see
    the reserved pool first."""
    department_id = request.GET.get("department", "")
    found: list[Slot] = []
    if department_id.isdigit():
        now = timezone.now()
        found = list(
            access.slots_visible_to(request.user)
            .filter(
                department_id=int(department_id),
                status=SlotStatus.FREE,
                start__gt=now,
                start__lte=now + timedelta(days=SLOT_DAYS),
            )
            .select_related("specialist")
            .order_by("start", "id")[: MAX_PICKER_SLOTS * 4]
        )
        found.sort(key=lambda s: (s.pool != Pool.RESERVED, s.start))
        found = sorted(found[:MAX_PICKER_SLOTS], key=lambda s: s.start)
    return render(request, "referrals/_slots.html", {"slots": found})


def _validation_message(exc: services.ReferralValidationError) -> str:
    """The refusal as the page shows it; a file's problem says it is about the attached files."""
    label = {"file": _("Attached files")}
    return "; ".join(f"{label[name]}: {msg}" if name in label else msg for name, msg in exc.errors)


def _upload_context() -> dict[str, Any]:
    return {
        "attachment_max_mb": files.max_megabytes(),
        "attachment_max_count": files.MAX_FILES_PER_REFERRAL,
        "attachment_accept": ",".join([*files.EXTENSIONS, *files.EXTENSIONS.values()]),
    }


def _referral_or_404(request: HttpRequest, pk: int) -> Referral:
    referral = _with_relations(access.referrals_visible_to(request.user)).filter(pk=pk).first()
    if referral is None:
        record(
            request=request,
            action=Action.READ,
            resource_type="referral",
            resource_id=pk,
            outcome=Outcome.DENIED,
        )
        raise Http404
    return referral


def _actions(request: HttpRequest, referral: Referral) -> set[str]:
    """What the user may do to this referral now."""
    user = request.user
    allowed: set[str] = set()
    if access.referrals_sendable_by(user).filter(pk=referral.pk).exists():
        if referral.status == ReferralStatus.DRAFT:
            allowed |= {"send", "cancel"}
        if referral.status == ReferralStatus.SENT:
            allowed.add("cancel")
        if referral.status in services.ATTACHABLE:
            allowed.add("attach")
    if access.referrals_handled_by_desk(user).filter(pk=referral.pk).exists():
        allowed |= {
            ReferralStatus.SENT: {"accept", "decline"},
            ReferralStatus.ACCEPTED: {"schedule", "return"},
            ReferralStatus.BOOKED: {"visit", "no_show", "return"},
            ReferralStatus.SEEN: {"return"},
        }.get(ReferralStatus(referral.status), set())
    if (
        referral.status == ReferralStatus.SENT
        and access.down_referrals_acceptable_by(user).filter(pk=referral.pk).exists()
    ):
        allowed.add("accept_down")
    return allowed


@referral_page
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _referral_or_404(request, pk)
    record(
        request=request,
        action=Action.READ,
        resource_type="referral",
        resource_id=referral.pk,
        resident_id=referral.resident_id,
    )
    return render(request, "referrals/detail.html", _detail_context(request, referral))


def _detail_context(request: HttpRequest, referral: Referral, error: str = "") -> dict[str, Any]:
    actions = _actions(request, referral)
    schedule_slots: list[Slot] = []
    if "schedule" in actions and referral.department_id is not None:
        schedule_slots = list(
            Slot.objects.filter(
                department_id=referral.department_id, status=SlotStatus.FREE, start__gt=timezone.now()
            ).order_by("start", "id")[:MAX_PICKER_SLOTS]
        )
    return {
        "referral": referral,
        "files": list(access.referral_files_visible_to(request.user).filter(referral=referral)),
        **_upload_context(),
        "events": referral.events.select_related("actor").order_by("at", "id"),
        "returns": referral.returns.order_by("id"),
        "actions": actions,
        "has_actions": bool(actions - {"attach"}),
        "destinations": Destination.choices,
        "schedule_slots": schedule_slots,
        "today": timezone.localdate(),
        "error": error,
    }


@referral_page
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Apply one action to a referral; a refused change shows the page again with the reason (422)."""
    referral = _referral_or_404(request, pk)
    if action not in _actions(request, referral):
        record(
            request=request,
            action=Action.UPDATE,
            resource_type="referral",
            resource_id=pk,
            resident_id=referral.resident_id,
            outcome=Outcome.DENIED,
        )
        raise Http404
    user = request.user
    post = request.POST
    try:
        target = referral
        if action == "attach":
            services.do_attach(user, referral, request.FILES.getlist(ATTACHMENTS_FIELD), request=request)
        elif action == "send":
            services.do_send(user, referral, request=request)
        elif action == "cancel":
            services.do_cancel_referral(user, referral, request=request)
        elif action == "accept":
            services.do_accept(user, referral, request=request)
        elif action == "decline":
            services.do_decline(user, referral, post.get("note", ""), request=request)
        elif action == "schedule":
            services.do_schedule(user, referral, int(post.get("slot", "0") or 0), request=request)
        elif action == "visit":
            services.do_record_visit(user, referral, request=request)
        elif action == "no_show":
            services.do_mark_referral_no_show(user, referral, request=request)
        elif action == "return":
            needs = tuple(n for n in post.get("needs", "").replace("，", ",").split(",") if n.strip())
            draft = services.DownReferralDraft(
                destination=post.get("destination", ""), reason=post.get("reason", ""), needs=needs
            )
            target = services.do_refer_down(user, referral, draft, request=request)
        else:
            scheduled = date.fromisoformat(post.get("scheduled_on", ""))
            services.do_accept_down(user, referral, scheduled, request=request)
    except services.SlotUnavailable as exc:
        return _refused(request, referral, str(exc))
    except services.ReferralValidationError as exc:
        return _refused(request, referral, _validation_message(exc))
    except services.ReferralStateError as exc:
        return _refused(request, referral, str(exc))
    except ValueError:
        return _refused(request, referral, _("Fill in the form completely."))
    messages.success(request, _("Saved."))
    return redirect("referrals:detail", pk=target.pk)


def _refused(request: HttpRequest, referral: Referral, error: str) -> HttpResponse:
    fresh = _referral_or_404(request, referral.pk)
    return render(request, "referrals/detail.html", _detail_context(request, fresh, error=error), status=422)


@referral_page
@require_GET
def download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A file sent with a referral, for the receiving desk and the referring team; 404 for anyone
    else, audited either way."""
    found = downloads.readable_file(request, pk)
    if found is None:
        raise Http404
    return downloads.as_download(request, found)
