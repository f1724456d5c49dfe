"""The referrals API: slots and appointments (IHE `$hold` / `$book`), and referrals both ways.

Handlers are thin: a schema parses the input, `jiayi.access` scopes every queryset, the services do the
writes and enforce the booking rules, and every 4xx is returned here. Something the user may not see
answers like something that does not exist (404); reads and changes are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.referrals import downloads, fhir, services
from jiayi.referrals.choices import Direction, SlotStatus
from jiayi.referrals.files import EXTENSIONS
from jiayi.referrals.models import Appointment, Department, Referral, ReferralEvent, ReferralFile, Slot
from jiayi.referrals.schemas import (
    AcceptIn,
    AppointmentOut,
    BookIn,
    DeclineIn,
    DepartmentOut,
    ReferralDetailOut,
    ReferralFileOut,
    ReferralFilters,
    ReferralIn,
    ReferralPage,
    ReturnIn,
    ScheduleIn,
    SendIn,
    SlotFilters,
    SlotOut,
    SlotUnavailableOut,
)
from jiayi.registry import tokens
from jiayi.registry.choices import HOSPITAL_KINDS
from jiayi.registry.models import Institution
from jiayi.registry.schemas import FieldErrors, Message

REFERRALS = "referrals"
SCHEDULING = "scheduling"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": REFERRALS,
        "description": "Referrals (转诊) under /api/referrals/referrals: up-referrals from family doctors "
        "(draft → sent → accepted → booked → seen → returned) and down-referrals back to the community. "
        "Referrals outside your centre or hospital answer 404; every read and change is audited.",
    },
    {
        "name": SCHEDULING,
        "description": "Departments, slots (号源) and appointments: `$hold` then `$book`, cancel, no-show. "
        "Reserved slots (预留号源) are visible and bookable only by family doctors, for their signed "
        'residents; a slot someone else took answers 409 "slot no longer available".',
    },
]

router = Router(auth=tokens.api_auth())

NOT_FOUND = {"detail": "Not Found"}
COMMON = {401: Message, 403: Message, 422: FieldErrors}
_ID_FIELDS = frozenset({"resident", "hospital", "department", "slot"})


def _field_errors(errors: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "detail": [
            {"field": f"{name}_id" if name in _ID_FIELDS else name, "message": message}
            for name, message in errors
        ]
    }


def _unavailable(exc: services.SlotUnavailable) -> Status[Any]:
    return Status(409, {**_field_errors([("slot", str(exc))]), "slot_id": exc.slot_id})


def _deny(request: HttpRequest, action: Action, resource_type: str, resource_id: int) -> Status[Any]:
    record(
        request=request,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=Outcome.DENIED,
    )
    return Status(404, NOT_FOUND)


def _unknown(request: HttpRequest, schema: Any) -> Status[Any] | None:
    unknown = sorted(set(request.GET) - set(schema.model_fields))
    if unknown:
        return Status(422, _field_errors([(name, "unknown query parameter") for name in unknown]))
    return None


# Departments and slots ---------------------------------------------------------------------------------


@router.get("/departments", response={200: list[DepartmentOut], **COMMON}, tags=[SCHEDULING])
def list_departments(request: HttpRequest, hospital_id: int | None = None) -> Any:
    """Hospital departments taking referrals, with their effective reserved share (master data)."""
    if not access.can_view_master_data(request.user):
        return Status(403, {"detail": "your role cannot list departments"})
    departments = Department.objects.filter(active=True).select_related("hospital")
    if hospital_id is not None:
        departments = departments.filter(hospital_id=hospital_id)
    return list(departments.order_by("hospital__code", "code")[:500])


def _slots(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    return slots.select_related("department", "specialist")


@router.get("/slots", response={200: list[SlotOut], **COMMON}, tags=[SCHEDULING])
def list_slots(request: HttpRequest, filters: Query[SlotFilters]) -> Any:
    """Free future slots you may book, soonest first. Residents and other roles see the public pool
    only; family doctors see reserved slots too; a referral desk sees its hospital's."""
    bad = _unknown(request, SlotFilters)
    if bad is not None:
        return bad
    slots = access.slots_visible_to(request.user).filter(status=SlotStatus.FREE, start__gt=timezone.now())
    if filters.hospital_id is not None:
        slots = slots.filter(hospital_id=filters.hospital_id)
    if filters.department_id is not None:
        slots = slots.filter(department_id=filters.department_id)
    if filters.service_kind:
        slots = slots.filter(service_kind=filters.service_kind)
    if filters.pool:
        slots = slots.filter(pool=filters.pool)
    if filters.start_from is not None:
        slots = slots.filter(start__gte=filters.start_from)
    if filters.start_to is not None:
        slots = slots.filter(start__lte=filters.start_to)
    return list(_slots(slots).order_by("start", "id")[: filters.limit])


def _appointment(pk: int) -> Appointment:
    return Appointment.objects.select_related(
        "slot__department", "slot__specialist", "resident", "family_doctor"
    ).get(pk=pk)


def _take(request: HttpRequest, slot_id: int, payload: BookIn, *, hold: bool) -> Any:
    if access.slots_visible_to(request.user).filter(pk=slot_id).first() is None:
        return _deny(request, Action.CREATE, "slot", slot_id)
    resident = access.residents_bookable_by(request.user).filter(pk=payload.resident_id).first()
    if resident is None:
        return Status(422, _field_errors([("resident", "no such resident you may book for")]))
    account = access.account_of(request.user)
    doctor = account.staff if account is not None and access.can_refer(request.user) else None
    book = services.do_hold if hold else services.do_book
    try:
        appointment = book(request.user, slot_id, resident, family_doctor=doctor, request=request)
    except services.SlotUnavailable as exc:
        return _unavailable(exc)
    except services.ReferralValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    return Status(201, _appointment(appointment.pk))


TAKE_RESPONSES: dict[int, Any] = {201: AppointmentOut, 404: Message, 409: SlotUnavailableOut, **COMMON}


@router.post("/slots/{slot_id}/$hold", response=TAKE_RESPONSES, tags=[SCHEDULING])
def hold_slot(request: HttpRequest, slot_id: int, payload: BookIn) -> Any:
    """IHE `$hold`: keep a free slot for a resident for a few minutes; confirm it with `$book`."""
    return _take(request, slot_id, payload, hold=True)


@router.post("/slots/{slot_id}/$book", response=TAKE_RESPONSES, tags=[SCHEDULING])
def book_slot(request: HttpRequest, slot_id: int, payload: BookIn) -> Any:
    """IHE `$book`: book a free slot for a resident at once. 409 when someone else took it."""
    return _take(request, slot_id, payload, hold=False)


def _visible_appointment(
    request: HttpRequest, appointment_id: int, action: Action
) -> Appointment | Status[Any]:
    found = access.appointments_visible_to(request.user).filter(pk=appointment_id).first()
    if found is None:
        return _deny(request, action, "appointment", appointment_id)
    return found


CHANGE: dict[int, Any] = {200: AppointmentOut, 404: Message, 409: Message, **COMMON}


def _state_conflict(exc: services.ReferralStateError, _appointment: Appointment) -> Status[Any]:
    return Status(409, {"detail": str(exc)})


def _change_appointment(
    request: HttpRequest,
    appointment_id: int,
    change: Callable[[Appointment], object],
    conflict: Callable[[services.ReferralStateError, Appointment], Status[Any]] = _state_conflict,
) -> Any:
    """Apply one change to an appointment the user may see (404 otherwise) and answer it as it stands."""
    appointment = _visible_appointment(request, appointment_id, Action.UPDATE)
    if isinstance(appointment, Status):
        return appointment
    try:
        change(appointment)
    except services.SlotUnavailable as exc:
        return _unavailable(exc)
    except services.ReferralStateError as exc:
        return conflict(exc, appointment)
    return _appointment(appointment.pk)


@router.get(
    "/appointments/{appointment_id}",
    response={200: AppointmentOut, 404: Message, **COMMON},
    tags=[SCHEDULING],
)
def get_appointment(request: HttpRequest, appointment_id: int) -> Any:
    appointment = _visible_appointment(request, appointment_id, Action.READ)
    if isinstance(appointment, Status):
        return appointment
    record(
        request=request,
        action=Action.READ,
        resource_type="appointment",
        resource_id=appointment.pk,
        resident_id=appointment.resident_id,
    )
    return _appointment(appointment.pk)


def _status_conflict(exc: services.ReferralStateError, appointment: Appointment) -> Status[Any]:
    return Status(409, {**_field_errors([("status", str(exc))]), "slot_id": appointment.slot_id})


@router.post(
    "/appointments/{appointment_id}/$book",
    response={**CHANGE, 409: SlotUnavailableOut},
    tags=[SCHEDULING],
)
def confirm_appointment(request: HttpRequest, appointment_id: int) -> Any:
    """IHE `$book` of a held appointment, before its hold runs out (409 after)."""
    return _change_appointment(
        request,
        appointment_id,
        lambda a: services.do_confirm(request.user, a, request=request),
        _status_conflict,
    )


@router.post("/appointments/{appointment_id}/cancel", response=CHANGE, tags=[SCHEDULING])
def cancel_appointment(request: HttpRequest, appointment_id: int) -> Any:
    """Cancel a held or booked appointment; the slot is free again."""
    return _change_appointment(
        request, appointment_id, lambda a: services.do_cancel(request.user, a, request=request)
    )


@router.post("/appointments/{appointment_id}/no-show", response=CHANGE, tags=[SCHEDULING])
def no_show(request: HttpRequest, appointment_id: int) -> Any:
    """The hospital's referral desk records that the resident did not come (爽约)."""
    if not access.can_work_referral_desk(request.user):
        return Status(403, {"detail": "only a referral desk records no-shows"})
    return _change_appointment(
        request, appointment_id, lambda a: services.do_mark_no_show(request.user, a, request=request)
    )


# Referrals ---------------------------------------------------------------------------------------------


def _with_relations(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    return referrals.select_related("resident", "family_doctor", "centre", "hospital", "department")


def _detail(pk: int) -> Referral:
    events = ReferralEvent.objects.select_related("actor").order_by("at", "id")
    return (
        _with_relations(Referral.objects.all())
        .select_related(
            "appointment__slot__department", "appointment__slot__specialist", "appointment__resident"
        )
        .select_related("appointment__family_doctor")
        .prefetch_related(Prefetch("events", queryset=events))
        .get(pk=pk)
    )


@router.get("/referrals", response={200: ReferralPage, **COMMON}, tags=[REFERRALS])
def list_referrals(request: HttpRequest, filters: Query[ReferralFilters]) -> Any:
    """Referrals you may see, newest first: your centre's both ways, or your hospital's incoming."""
    bad = _unknown(request, ReferralFilters)
    if bad is not None:
        return bad
    referrals = access.referrals_visible_to(request.user)
    if filters.direction:
        referrals = referrals.filter(direction=filters.direction)
    if filters.status:
        referrals = referrals.filter(status=filters.status)
    if filters.resident_id is not None:
        referrals = referrals.filter(resident_id=filters.resident_id)
    referrals = _with_relations(referrals).order_by("-created_at", "-id")
    count = referrals.count()
    start = (filters.page - 1) * filters.page_size
    rows = list(referrals[start : start + filters.page_size])
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="referral",
        detail={"count": count, "page": filters.page, "resident_ids": sorted({r.resident_id for r in rows})},
    )
    return {"count": count, "page": filters.page, "page_size": filters.page_size, "items": rows}


@router.get(
    "/referrals/{referral_id}", response={200: ReferralDetailOut, 404: Message, **COMMON}, tags=[REFERRALS]
)
def get_referral(request: HttpRequest, referral_id: int) -> Any:
    """One referral you may see, with its summary, appointment and history (404 otherwise)."""
    if not access.referrals_visible_to(request.user).filter(pk=referral_id).exists():
        return _deny(request, Action.READ, "referral", referral_id)
    referral = _detail(referral_id)
    record(
        request=request,
        action=Action.READ,
        resource_type="referral",
        resource_id=referral.pk,
        resident_id=referral.resident_id,
    )
    return referral


@router.get(
    "/referrals/{referral_id}/fhir", response={200: dict[str, Any], 404: Message, **COMMON}, tags=[REFERRALS]
)
def export_referral_fhir(request: HttpRequest, referral_id: int) -> Any:
    """The referral as FHIR R4: a collection Bundle of its ServiceRequest and Appointment (docs/fhir.md)."""
    if not access.referrals_visible_to(request.user).filter(pk=referral_id).exists():
        return _deny(request, Action.EXPORT, "referral", referral_id)
    referral = _detail(referral_id)
    record(
        request=request,
        action=Action.EXPORT,
        resource_type="referral",
        resource_id=referral.pk,
        resident_id=referral.resident_id,
        detail={"format": "fhir"},
    )
    files = list(access.referral_files_visible_to(request.user).filter(referral=referral).order_by("id"))
    return fhir.referral_bundle(referral, files)


@router.post("/referrals", response={201: ReferralDetailOut, 404: Message, **COMMON}, tags=[REFERRALS])
def create_referral(request: HttpRequest, payload: ReferralIn) -> Any:
    """Write an up-referral draft for a resident signed with you; send it with `/send`."""
    if not access.can_refer(request.user):
        return Status(403, {"detail": "only family doctors write up-referrals"})
    resident = access.residents_referable_by(request.user).filter(pk=payload.resident_id).first()
    if resident is None:
        return _deny(request, Action.CREATE, "referral", payload.resident_id)
    errors: list[tuple[str, str]] = []
    hospital = Institution.objects.filter(pk=payload.hospital_id, kind__in=HOSPITAL_KINDS).first()
    if hospital is None:
        errors.append(("hospital", "no such hospital"))
    department = None
    if payload.department_id is not None:
        department = Department.objects.filter(pk=payload.department_id, active=True).first()
        if department is None:
            errors.append(("department", "no such department"))
    if errors or hospital is None:
        return Status(422, _field_errors(errors))
    account = access.account_of(request.user)
    assert account is not None
    assert account.staff is not None
    draft = services.UpReferralDraft(
        hospital=hospital,
        department=department,
        reason=payload.reason,
        urgency=payload.urgency,
        request_kind=payload.request_kind,
        attachments=tuple(a.model_dump() for a in payload.attachments),
    )
    try:
        referral = services.do_create_up_referral(
            request.user, resident, account.staff, draft, request=request
        )
    except services.ReferralValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    return Status(201, _detail(referral.pk))


REFERRAL_CHANGE: dict[int, Any] = {200: ReferralDetailOut, 404: Message, 409: Message, **COMMON}


def _one(request: HttpRequest, scope: QuerySet[Referral], referral_id: int) -> Referral | Status[Any]:
    """The referral if the user may make this change; 404 when it is out of reach for them."""
    referral = scope.filter(pk=referral_id).first()
    if referral is None:
        return _deny(request, Action.UPDATE, "referral", referral_id)
    return referral


def _change(
    request: HttpRequest, scope: QuerySet[Referral], referral_id: int, change: Callable[[Referral], object]
) -> Any:
    referral = _one(request, scope, referral_id)
    if isinstance(referral, Status):
        return referral
    try:
        change(referral)
    except services.SlotUnavailable as exc:
        return Status(409, {"detail": str(exc)})
    except services.ReferralValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.ReferralStateError as exc:
        return Status(409, {"detail": str(exc)})
    return _detail(referral_id)


def _referrer_change(
    request: HttpRequest, referral_id: int, verb: str, change: Callable[[Referral], object]
) -> Any:
    """A change the referring family doctor makes to their own up-referral."""
    if not access.can_refer(request.user):
        return Status(403, {"detail": f"only family doctors {verb} up-referrals"})
    return _change(request, access.referrals_sendable_by(request.user), referral_id, change)


def _desk_only(request: HttpRequest) -> Status[Any] | None:
    if not access.can_work_referral_desk(request.user):
        return Status(403, {"detail": "only a hospital referral desk does this"})
    return None


def _desk_change(request: HttpRequest, referral_id: int, change: Callable[[Referral], object]) -> Any:
    """A change the receiving hospital's referral desk makes to an up-referral."""
    refused = _desk_only(request)
    if refused is not None:
        return refused
    return _change(request, access.referrals_handled_by_desk(request.user), referral_id, change)


@router.post("/referrals/{referral_id}/send", response=REFERRAL_CHANGE, tags=[REFERRALS])
def send_referral(request: HttpRequest, referral_id: int, payload: SendIn) -> Any:
    """Send your draft to the hospital, booking `slot_id` with it (a reserved slot for your signed
    resident). 409 "slot no longer available" when someone else took the slot."""
    return _referrer_change(
        request,
        referral_id,
        "send",
        lambda r: services.do_send(request.user, r, slot_id=payload.slot_id, request=request),
    )


@router.post("/referrals/{referral_id}/cancel", response=REFERRAL_CHANGE, tags=[REFERRALS])
def cancel_referral(request: HttpRequest, referral_id: int) -> Any:
    """Withdraw your draft or sent up-referral; its slot is given back."""
    return _referrer_change(
        request,
        referral_id,
        "withdraw",
        lambda r: services.do_cancel_referral(request.user, r, request=request),
    )


@router.post("/referrals/{referral_id}/accept", response=REFERRAL_CHANGE, tags=[REFERRALS])
def accept_referral(request: HttpRequest, referral_id: int, payload: AcceptIn) -> Any:
    """The hospital's desk accepts an up-referral; the centre accepts a down-referral and says when
    care starts (`scheduled_on`)."""
    desk = access.referrals_handled_by_desk(request.user)
    if desk.filter(pk=referral_id).exists():
        return _change(
            request, desk, referral_id, lambda r: services.do_accept(request.user, r, request=request)
        )
    if (
        payload.scheduled_on is None
        and access.down_referrals_acceptable_by(request.user).filter(pk=referral_id).exists()
    ):
        return Status(422, _field_errors([("scheduled_on", "say when community care starts")]))
    scheduled_on = payload.scheduled_on or timezone.localdate()
    return _change(
        request,
        access.down_referrals_acceptable_by(request.user),
        referral_id,
        lambda r: services.do_accept_down(request.user, r, scheduled_on, request=request),
    )


@router.post("/referrals/{referral_id}/decline", response=REFERRAL_CHANGE, tags=[REFERRALS])
def decline_referral(request: HttpRequest, referral_id: int, payload: DeclineIn) -> Any:
    """The hospital declines a sent up-referral, saying why; a booked slot is given back."""
    return _desk_change(
        request, referral_id, lambda r: services.do_decline(request.user, r, payload.note, request=request)
    )


@router.post("/referrals/{referral_id}/schedule", response=REFERRAL_CHANGE, tags=[REFERRALS])
def schedule_referral(request: HttpRequest, referral_id: int, payload: ScheduleIn) -> Any:
    """The desk books a slot of its hospital for an accepted up-referral."""
    return _desk_change(
        request,
        referral_id,
        lambda r: services.do_schedule(request.user, r, payload.slot_id, request=request),
    )


@router.post("/referrals/{referral_id}/visit", response=REFERRAL_CHANGE, tags=[REFERRALS])
def record_visit(request: HttpRequest, referral_id: int) -> Any:
    """The resident was seen: the visit enters the health account as a referral visit."""
    return _desk_change(
        request, referral_id, lambda r: services.do_record_visit(request.user, r, request=request)
    )


@router.post("/referrals/{referral_id}/no-show", response=REFERRAL_CHANGE, tags=[REFERRALS])
def referral_no_show(request: HttpRequest, referral_id: int) -> Any:
    """The referred resident missed the appointment; the referral waits for a new slot."""
    return _desk_change(
        request, referral_id, lambda r: services.do_mark_referral_no_show(request.user, r, request=request)
    )


# Files sent with a referral -----------------------------------------------------------------------------

UPLOAD_FIELD = "file"
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [UPLOAD_FIELD],
                    "properties": {
                        UPLOAD_FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "PDF, JPEG or PNG files (the content decides, not the name)",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/referrals/{referral_id}/files",
    response={201: list[ReferralFileOut], 404: Message, 409: Message, **COMMON},
    tags=[REFERRALS],
    openapi_extra=UPLOAD_BODY,
)
def upload_files(request: HttpRequest, referral_id: int) -> Any:
    """Attach files to your up-referral (multipart, field `file`, repeatable): PDF, JPEG or PNG by
    content, each within `JIAYI_ATTACHMENT_MAX_MB`. All are stored or, on any error (422 naming the
    field and the file), none."""
    referral = _one(request, access.referrals_sendable_by(request.user), referral_id)
    if isinstance(referral, Status):
        return referral
    try:
        rows = services.do_attach(
            request.user, referral, request.FILES.getlist(UPLOAD_FIELD), field=UPLOAD_FIELD, request=request
        )
    except services.ReferralValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.ReferralStateError as exc:
        return Status(409, {"detail": str(exc)})
    return Status(201, rows)


@router.get(
    "/referrals/{referral_id}/files",
    response={200: list[ReferralFileOut], 404: Message, **COMMON},
    tags=[REFERRALS],
)
def list_files(request: HttpRequest, referral_id: int) -> Any:
    """The files sent with a referral, for the receiving desk and the referring team (404 otherwise)."""
    referral = access.referrals_with_files_readable_by(request.user).filter(pk=referral_id).first()
    if referral is None:
        return _deny(request, Action.READ, "referral_file", referral_id)
    rows = list(ReferralFile.objects.filter(referral=referral).order_by("uploaded_at", "id"))
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="referral_file",
        resident_id=referral.resident_id,
        detail={"referral": referral.pk, "file_ids": [row.pk for row in rows]},
    )
    return rows


@router.get(
    "/files/{file_id}",
    response={404: Message, **COMMON},
    tags=[REFERRALS],
    openapi_extra={
        "responses": {
            200: {
                "description": "The file's bytes, as a download",
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in EXTENSIONS},
            }
        }
    },
)
def download_file(request: HttpRequest, file_id: int) -> Any:
    """The bytes of a file sent with a referral, for the receiving desk and the referring team."""
    found = downloads.readable_file(request, file_id)
    if found is None:
        return Status(404, NOT_FOUND)
    return downloads.as_download(request, found)


@router.post(
    "/referrals/{referral_id}/return",
    response={201: ReferralDetailOut, 404: Message, 409: Message, **COMMON},
    tags=[REFERRALS],
)
def return_referral(request: HttpRequest, referral_id: int, payload: ReturnIn) -> Any:
    """Refer the resident back down (下转) to a community bed, a family bed or the family doctor's
    follow-up; the up-referral is returned and the new down-referral is answered (201)."""
    refused = _desk_only(request)
    if refused is not None:
        return refused
    parent = _one(request, access.referrals_handled_by_desk(request.user), referral_id)
    if isinstance(parent, Status):
        return parent
    if parent.direction != Direction.UP:
        return Status(409, {"detail": "only an up-referral is returned"})
    draft = services.DownReferralDraft(
        destination=payload.destination, reason=payload.reason, needs=tuple(payload.needs)
    )
    try:
        down = services.do_refer_down(request.user, parent, draft, request=request)
    except services.ReferralValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.ReferralStateError as exc:
        return Status(409, {"detail": str(exc)})
    return Status(201, _detail(down.pk))
