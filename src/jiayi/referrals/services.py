"""State changes of slots, appointments and referrals: the one write path for pages, API and imports.

`check_*` functions validate and raise `ReferralValidationError` with every problem as (field, message);
`do_*` functions write atomically, log referral status changes as `ReferralEvent`s and append the audit
entry in the same transaction. They trust their caller on access (the API and pages ask `jiayi.access`
first) but enforce the booking rules themselves: a reserved slot goes only to a resident signed with
the booking family doctor.

Double-booking: the slot row is locked (`select_for_update`, PostgreSQL) or the write transaction is
serial (SQLite IMMEDIATE mode) while the slot is checked and taken, and the partial unique index
`appointment_one_per_slot` refuses a second occupying appointment whatever happens before it.

Files sent with a referral are checked whole (type by content, size, count) before anything is written,
and stored with their rows in one step: if the rows or their audit entries fail, the bytes are deleted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.records.choices import ClinicalStatus, EncounterType, MedicationStatus
from jiayi.records.models import Condition, Encounter, Medication, Observation
from jiayi.referrals import files, rules
from jiayi.referrals.choices import (
    AppointmentStatus,
    Destination,
    Direction,
    Pool,
    ReferralStatus,
    RequestKind,
    SlotStatus,
    Urgency,
)
from jiayi.referrals.models import (
    Appointment,
    Department,
    HospitalPolicy,
    Referral,
    ReferralEvent,
    ReferralFile,
    ScheduleTemplate,
    Slot,
    SlotRelease,
)
from jiayi.referrals.signals import slots_changed
from jiayi.registry.choices import HOSPITAL_KINDS, InstitutionKind
from jiayi.registry.models import Institution, Resident, Staff
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing

logger = logging.getLogger(__name__)

Actor = User | AnonymousUser | None
FieldError = tuple[str, str]
REASON_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 200
# The system name under which visits made through a referral enter the health account.
ENCOUNTER_SOURCE = "jiayi-referrals"
SLOT_UNAVAILABLE = "slot no longer available"


class ReferralError(Exception):
    """A referral, slot or appointment cannot be changed as asked."""


class ReferralValidationError(ReferralError):
    """Invalid input, with every problem found as (field, message)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors))


class SlotUnavailable(ReferralError):
    """Someone else holds or booked the slot (or it has passed): the client should pick another."""

    def __init__(self, slot_id: int) -> None:
        self.slot_id = slot_id
        super().__init__(SLOT_UNAVAILABLE)


class ReferralStateError(ReferralError):
    """The record's status does not allow the change (a returned referral cannot be accepted)."""


def _user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


# Settings and shares -----------------------------------------------------------------------------------


def district_reserved_share() -> Decimal:
    """The district's reserved share (10% in Putuo, 20% in Changning), from JIAYI_RESERVED_SLOT_SHARE."""
    return Decimal(str(getattr(settings, "JIAYI_RESERVED_SLOT_SHARE", rules.DEFAULT_RESERVED_SHARE)))


def district_release_lead_hours() -> int:
    return int(getattr(settings, "JIAYI_RESERVED_RELEASE_HOURS", rules.DEFAULT_RELEASE_LEAD_HOURS))


def hold_minutes() -> int:
    return int(getattr(settings, "JIAYI_SLOT_HOLD_MINUTES", rules.DEFAULT_HOLD_MINUTES))


def reserved_share_of(department: Department) -> Decimal:
    policy = HospitalPolicy.objects.filter(hospital=department.hospital_id).first()
    return rules.reserved_share_for(
        department.reserved_share, policy.reserved_share if policy else None, district_reserved_share()
    )


def release_lead_hours_of(hospital_id: int) -> int:
    policy = HospitalPolicy.objects.filter(hospital=hospital_id).first()
    if policy is not None and policy.release_lead_hours is not None:
        return policy.release_lead_hours
    return district_release_lead_hours()


# Schedules ---------------------------------------------------------------------------------------------


def do_generate_slots(template: ScheduleTemplate, first: date, last: date) -> int:
    """Create the template's slots from `first` to `last`; reserved ones spread over each session.
    Running it again for the same days adds nothing (one slot per template and start)."""
    share = reserved_share_of(template.department)
    slots: list[Slot] = []
    for day in rules.days_on_weekday(first, last, template.weekday):
        times = rules.session_times(day, template.start_time, template.end_time, template.slot_minutes)
        reserved = rules.reserved_positions(len(times), share)
        slots += [
            Slot(
                hospital_id=template.department.hospital_id,
                department_id=template.department_id,
                specialist_id=template.specialist_id,
                template=template,
                service_kind=template.service_kind,
                start=start,
                end=end,
                pool=Pool.RESERVED if i in reserved else Pool.PUBLIC,
            )
            for i, (start, end) in enumerate(times)
        ]
    existing = set(
        Slot.objects.filter(template=template, start__in=[s.start for s in slots]).values_list(
            "start", flat=True
        )
    )
    new = [s for s in slots if s.start not in existing]
    Slot.objects.bulk_create(new)
    return len(new)


# Booking -----------------------------------------------------------------------------------------------


def has_active_signing(resident: Resident, family_doctor: Staff) -> bool:
    return Signing.objects.filter(
        resident=resident, family_doctor=family_doctor, status=SigningStatus.ACTIVE
    ).exists()


def check_may_book(slot: Slot, resident: Resident, family_doctor: Staff | None) -> None:
    """A reserved slot is booked by a family doctor for one of their signed residents, nobody else."""
    errors: list[FieldError] = []
    if resident.date_of_death is not None:
        errors.append(("resident", "the resident has died"))
    if slot.pool == Pool.RESERVED:
        if family_doctor is None:
            errors.append(("slot", "a reserved slot is booked by a family doctor"))
        elif not has_active_signing(resident, family_doctor):
            errors.append(("resident", "the resident is not signed with this family doctor"))
    if errors:
        raise ReferralValidationError(errors)


def _locked_slot(slot_id: int) -> Slot:
    """The slot, locked for the rest of the transaction on PostgreSQL (SQLite's write transactions
    are serial already)."""
    try:
        return Slot.objects.select_for_update().get(pk=slot_id)
    except Slot.DoesNotExist as exc:
        raise SlotUnavailable(slot_id) from exc


def _expire_hold_on(slot: Slot, now: datetime) -> None:
    """Free a slot whose hold ran out, so the next booking can take it."""
    stale = Appointment.objects.filter(
        slot=slot, status=AppointmentStatus.HELD, hold_expires_at__lte=now
    ).update(status=AppointmentStatus.EXPIRED, status_changed_at=now)
    if stale:
        slot.status = SlotStatus.FREE
        Slot.objects.filter(pk=slot.pk).update(status=SlotStatus.FREE)


def _take(
    actor: Actor,
    slot_id: int,
    resident: Resident,
    family_doctor: Staff | None,
    status: AppointmentStatus,
    now: datetime | None,
    request: HttpRequest | None,
) -> Appointment:
    """Take a free slot for the resident as a held or booked appointment, in one transaction that
    holds the slot's lock from the check to the write."""
    now = now or timezone.now()
    held = status == AppointmentStatus.HELD
    with transaction.atomic():
        slot = _locked_slot(slot_id)
        _expire_hold_on(slot, now)
        if slot.status != SlotStatus.FREE or slot.start <= now:
            raise SlotUnavailable(slot_id)
        check_may_book(slot, resident, family_doctor)
        try:
            with transaction.atomic():
                appointment = Appointment.objects.create(
                    slot=slot,
                    resident=resident,
                    status=status,
                    pool=slot.pool,
                    booked_by=_user(actor),
                    family_doctor=family_doctor,
                    hold_expires_at=now + timedelta(minutes=hold_minutes()) if held else None,
                    created_at=now,
                    status_changed_at=now,
                )
        except IntegrityError as exc:
            raise SlotUnavailable(slot_id) from exc
        Slot.objects.filter(pk=slot.pk).update(status=SlotStatus.HELD if held else SlotStatus.BOOKED)
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="appointment",
            resource_id=appointment.pk,
            resident_id=resident.pk,
            detail={"slot": slot.pk, "status": str(status), "pool": slot.pool},
        )
    return appointment


def do_hold(
    actor: Actor,
    slot_id: int,
    resident: Resident,
    *,
    family_doctor: Staff | None = None,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Appointment:
    """IHE `$hold`: keep the slot for the resident for a few minutes while the booking is confirmed."""
    return _take(actor, slot_id, resident, family_doctor, AppointmentStatus.HELD, now, request)


def do_book(
    actor: Actor,
    slot_id: int,
    resident: Resident,
    *,
    family_doctor: Staff | None = None,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Appointment:
    """IHE `$book` straight away: take a free slot for the resident. Raises `SlotUnavailable` (409)."""
    return _take(actor, slot_id, resident, family_doctor, AppointmentStatus.BOOKED, now, request)


def _set_status(
    actor: Actor,
    appointment: Appointment,
    status: AppointmentStatus,
    slot_status: SlotStatus,
    now: datetime,
    request: HttpRequest | None,
) -> Appointment:
    Appointment.objects.filter(pk=appointment.pk).update(status=status, status_changed_at=now)
    Slot.objects.filter(pk=appointment.slot_id).update(status=slot_status)
    hospital_ids = list(Slot.objects.filter(pk=appointment.slot_id).values_list("hospital_id", flat=True))
    slots_changed.send(sender=Appointment, hospital_ids=hospital_ids)
    appointment.status = status
    appointment.status_changed_at = now
    record(
        request=request,
        actor=actor,
        action=Action.UPDATE,
        resource_type="appointment",
        resource_id=appointment.pk,
        resident_id=appointment.resident_id,
        detail={"status": str(status)},
    )
    return appointment


def _transition(
    actor: Actor,
    appointment: Appointment,
    allowed: tuple[AppointmentStatus, ...],
    to: AppointmentStatus,
    slot_status: SlotStatus,
    now: datetime | None,
    request: HttpRequest | None,
    *,
    refusal: str,
) -> Appointment:
    """Move a locked appointment from one of the `allowed` statuses to `to`. A held appointment whose
    hold ran out expires instead, and its slot is free again (`SlotUnavailable`)."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in allowed:
            raise ReferralStateError(refusal.format(status=current.status))
        expired = current.hold_expires_at is not None and current.hold_expires_at <= now
        if current.status == AppointmentStatus.HELD and to == AppointmentStatus.BOOKED and expired:
            _set_status(actor, current, AppointmentStatus.EXPIRED, SlotStatus.FREE, now, request)
            raise SlotUnavailable(current.slot_id)
        return _set_status(actor, current, to, slot_status, now, request)


def do_confirm(
    actor: Actor, appointment: Appointment, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Appointment:
    """IHE `$book` of a held appointment: confirm it before the hold runs out."""
    held = (AppointmentStatus.HELD,)
    booked = AppointmentStatus.BOOKED
    refusal = "the appointment is {status}, not held"
    return _transition(actor, appointment, held, booked, SlotStatus.BOOKED, now, request, refusal=refusal)


def do_cancel(
    actor: Actor, appointment: Appointment, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Appointment:
    """Cancel a held or booked appointment; the slot is free again in its pool."""
    taken = (AppointmentStatus.HELD, AppointmentStatus.BOOKED)
    cancelled = AppointmentStatus.CANCELLED
    refusal = "the appointment is {status} and cannot be cancelled"
    return _transition(actor, appointment, taken, cancelled, SlotStatus.FREE, now, request, refusal=refusal)


def do_mark_no_show(
    actor: Actor, appointment: Appointment, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Appointment:
    """The resident did not come (爽约): the slot stays used, the desk's no-show count grows."""
    booked = (AppointmentStatus.BOOKED,)
    no_show = AppointmentStatus.NO_SHOW
    refusal = "the appointment is {status}, not booked"
    return _transition(actor, appointment, booked, no_show, SlotStatus.BOOKED, now, request, refusal=refusal)


def do_expire_holds(now: datetime) -> int:
    """Free every slot whose hold ran out; returns how many holds expired."""
    with transaction.atomic():
        stale = list(
            Appointment.objects.select_for_update()
            .filter(status=AppointmentStatus.HELD, hold_expires_at__lte=now)
            .values_list("pk", "slot_id")
        )
        if not stale:
            return 0
        Appointment.objects.filter(pk__in=[pk for pk, _ in stale]).update(
            status=AppointmentStatus.EXPIRED, status_changed_at=now
        )
        freed = [slot for _, slot in stale]
        Slot.objects.filter(pk__in=freed).update(status=SlotStatus.FREE)
        hospital_ids = sorted(set(Slot.objects.filter(pk__in=freed).values_list("hospital_id", flat=True)))
        slots_changed.send(sender=Appointment, hospital_ids=hospital_ids)
    return len(stale)


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    released: int
    slot_ids: list[int]
    expired_holds: int


def do_release_reserved_slots(now: datetime | None = None, *, lead_hours: int | None = None) -> ReleaseResult:
    """Move every unused reserved slot that starts within its hospital's lead time to the public pool.

    The conditional update is the claim: a slot is released once (it leaves the reserved pool), so a
    second run, or two runs at once, release nothing more. Each run is logged as a `SlotRelease`.
    """
    now = now or timezone.now()
    expired = do_expire_holds(now)
    released: list[int] = []
    with transaction.atomic():
        hospitals = Slot.objects.filter(
            pool=Pool.RESERVED, status=SlotStatus.FREE, start__gt=now
        ).values_list("hospital_id", flat=True)
        for hospital_id in sorted(set(hospitals)):
            lead = lead_hours if lead_hours is not None else release_lead_hours_of(hospital_id)
            due = Slot.objects.select_for_update().filter(
                hospital_id=hospital_id,
                pool=Pool.RESERVED,
                status=SlotStatus.FREE,
                released_at__isnull=True,
                start__gt=now,
                start__lte=rules.release_cutoff(now, lead),
            )
            ids = list(due.values_list("pk", flat=True))
            if ids:
                Slot.objects.filter(pk__in=ids, pool=Pool.RESERVED, status=SlotStatus.FREE).update(
                    pool=Pool.PUBLIC, released_at=now
                )
                released += ids
        SlotRelease.objects.create(
            at=now,
            lead_hours=lead_hours if lead_hours is not None else district_release_lead_hours(),
            released=len(released),
            slot_ids=sorted(released),
        )
    logger.info("released %d reserved slots to the public pool", len(released))
    return ReleaseResult(released=len(released), slot_ids=sorted(released), expired_holds=expired)


# Referrals ---------------------------------------------------------------------------------------------


def health_summary(resident: Resident) -> dict[str, Any]:
    """What the hospital reads first: active diagnoses, current medicines and the latest measurements
    from the health account, as they stand when the referral is written."""
    conditions = Condition.objects.filter(
        resident=resident, clinical_status__in=[ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE]
    ).order_by("code")
    medications = Medication.objects.filter(resident=resident, status=MedicationStatus.ACTIVE).order_by(
        "medication_text"
    )
    latest: dict[str, dict[str, Any]] = {}
    for obs in Observation.objects.filter(resident=resident).order_by("-effective_at", "-id")[:50]:
        latest.setdefault(
            obs.code,
            {
                "code": obs.code,
                "label": obs.get_code_display(),
                "value": obs.value,
                "unit": obs.unit,
                "at": obs.effective_at.date().isoformat(),
            },
        )
    return {
        "conditions": [{"code": c.code, "display": c.display} for c in conditions[:20]],
        "medications": [{"text": m.medication_text, "dosage": m.dosage_text} for m in medications[:20]],
        "observations": list(latest.values())[:10],
        "age": resident.age_on(timezone.localdate()),
        "sex": resident.sex,
    }


def default_hospital_for(centre: Institution) -> Institution | None:
    """Where a centre refers by default: the lead of its medical consortium (医联体), else the district's
    regional medical centre."""
    lead = Institution.objects.filter(led_consortia__members=centre).order_by("id").first()
    if lead is not None:
        return lead
    return Institution.objects.filter(kind=InstitutionKind.REGIONAL_MEDICAL_CENTRE).order_by("id").first()


def _event(referral: Referral, old: str, new: str, actor: Actor, at: datetime, note: str = "") -> None:
    ReferralEvent.objects.create(
        referral=referral,
        from_status=old,
        to_status=new,
        actor=_user(actor),
        at=at,
        note=note[:NOTE_MAX_LENGTH],
    )


def _move(referral: Referral, new: ReferralStatus, actor: Actor, at: datetime, note: str = "") -> None:
    old = referral.status
    referral.status = new
    referral.status_changed_at = at
    referral.save(update_fields=["status", "status_changed_at", "appointment", "encounter", "scheduled_on"])
    _event(referral, old, new, actor, at, note)


def _audit(
    actor: Actor, referral: Referral, action: Action, request: HttpRequest | None, **detail: Any
) -> None:
    record(
        request=request,
        actor=actor,
        action=action,
        resource_type="referral",
        resource_id=referral.pk,
        resident_id=referral.resident_id,
        detail={"status": referral.status, **detail},
    )


@dataclass(frozen=True, slots=True)
class UpReferralDraft:
    """What a family doctor writes on an up-referral."""

    hospital: Institution
    department: Department | None
    reason: str
    urgency: str = Urgency.ROUTINE
    request_kind: str = RequestKind.VISIT
    attachments: tuple[dict[str, str], ...] = ()


def check_up_referral(draft: UpReferralDraft) -> None:
    errors: list[FieldError] = []
    if draft.hospital.kind not in HOSPITAL_KINDS:
        errors.append(("hospital", "the target is not a hospital"))
    if draft.department is not None and draft.department.hospital_id != draft.hospital.pk:
        errors.append(("department", "the department belongs to another hospital"))
    if not draft.reason.strip():
        errors.append(("reason", "a reason is required"))
    if len(draft.reason) > REASON_MAX_LENGTH:
        errors.append(("reason", f"at most {REASON_MAX_LENGTH} characters"))
    if draft.urgency not in Urgency.values:
        errors.append(("urgency", f"must be one of: {', '.join(Urgency.values)}"))
    if draft.request_kind not in RequestKind.values:
        errors.append(("request_kind", f"must be one of: {', '.join(RequestKind.values)}"))
    if errors:
        raise ReferralValidationError(errors)


def do_create_up_referral(
    actor: Actor,
    resident: Resident,
    family_doctor: Staff,
    draft: UpReferralDraft,
    *,
    follow_up_id: int | None = None,
    uploads: Sequence[UploadedFile] = (),
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    """Write an up-referral draft with a snapshot of the health account and the uploaded files.

    Every file is checked before anything is written; a file that fails names itself in the error."""
    check_up_referral(draft)
    checked = check_files(uploads)
    now = now or timezone.now()
    with _stored_files() as stored, transaction.atomic():
        referral = Referral.objects.create(
            direction=Direction.UP,
            resident=resident,
            family_doctor=family_doctor,
            centre=family_doctor.institution.centre,
            hospital=draft.hospital,
            department=draft.department,
            urgency=draft.urgency,
            request_kind=draft.request_kind,
            reason=draft.reason.strip(),
            summary=health_summary(resident),
            attachments=list(draft.attachments),
            status=ReferralStatus.DRAFT,
            follow_up_id=follow_up_id,
            created_at=now,
            created_by=_user(actor),
            status_changed_at=now,
        )
        _event(referral, "", ReferralStatus.DRAFT, actor, now)
        _audit(actor, referral, Action.CREATE, request)
        _store(actor, referral, checked, now, request, stored)
    return referral


# Files sent with a referral ----------------------------------------------------------------------------

# Files are added while the referral is still the referring doctor's or on its way through the hospital.
ATTACHABLE = (ReferralStatus.DRAFT, ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.BOOKED)


def check_file(upload: UploadedFile, field: str = "file") -> files.CheckedFile:
    """A PDF, JPEG or PNG by its content, within the size limit; its SHA-256 read on the way."""
    name = files.display_name(upload.name or "")
    size = upload.size or 0
    if size == 0:
        raise ReferralValidationError([(field, f"{name}: the file is empty")])
    if size > files.max_bytes():
        raise ReferralValidationError(
            [(field, f"{name}: larger than {files.max_megabytes()} MB ({size} bytes)")]
        )
    upload.seek(0)
    content_type = files.sniff(upload.read(files.SNIFF_BYTES))
    if content_type is None:
        raise ReferralValidationError(
            [(field, f"{name}: not a PDF, JPEG or PNG file (its content decides, not its name)")]
        )
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return files.CheckedFile(content_type=content_type, size=size, sha256=digest.hexdigest())


def check_files(
    uploads: Sequence[UploadedFile], field: str = "file", already: int = 0
) -> list[tuple[UploadedFile, files.CheckedFile]]:
    """Every upload checked, every problem reported (field, "name: problem")."""
    errors: list[FieldError] = []
    checked: list[tuple[UploadedFile, files.CheckedFile]] = []
    if already + len(uploads) > files.MAX_FILES_PER_REFERRAL:
        errors.append((field, f"at most {files.MAX_FILES_PER_REFERRAL} files per referral"))
    for upload in uploads:
        try:
            checked.append((upload, check_file(upload, field)))
        except ReferralValidationError as exc:
            errors += exc.errors
    if errors:
        raise ReferralValidationError(errors)
    return checked


@contextmanager
def _stored_files() -> Iterator[list[str]]:
    """Names written to the attachment storage inside the block; if the block fails (its transaction
    included, so open this outside `transaction.atomic`) they are deleted again, so a failed write
    leaves neither a row nor bytes behind."""
    names: list[str] = []
    try:
        yield names
    except BaseException:
        storage = files.attachment_storage()
        for name in names:
            storage.delete(name)
        raise


def _store(
    actor: Actor,
    referral: Referral,
    checked: Sequence[tuple[UploadedFile, files.CheckedFile]],
    now: datetime,
    request: HttpRequest | None,
    stored: list[str],
) -> list[ReferralFile]:
    rows: list[ReferralFile] = []
    for upload, proof in checked:
        row = ReferralFile(
            referral=referral,
            name=files.display_name(upload.name or ""),
            content_type=proof.content_type,
            size=proof.size,
            sha256=proof.sha256,
            uploaded_by=_user(actor),
            uploaded_at=now,
        )
        row.file.save(row.name, upload, save=False)
        stored.append(row.file.name)
        row.save()
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="referral_file",
            resource_id=row.pk,
            resident_id=referral.resident_id,
            detail={
                "referral": referral.pk,
                "content_type": row.content_type,
                "size": row.size,
                "sha256": row.sha256,
            },
        )
        rows.append(row)
    return rows


def do_attach(
    actor: Actor,
    referral: Referral,
    uploads: Sequence[UploadedFile],
    *,
    field: str = "file",
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> list[ReferralFile]:
    """Add files to an up-referral that is not closed yet; all of them or, on any error, none."""
    if not uploads:
        raise ReferralValidationError([(field, "choose a PDF, JPEG or PNG file")])
    now = now or timezone.now()
    with _stored_files() as stored, transaction.atomic():
        referral = _lock(referral)
        if referral.direction != Direction.UP:
            raise ReferralStateError("files are sent with up-referrals")
        _require(referral, *ATTACHABLE)
        checked = check_files(uploads, field, already=referral.files.count())
        return _store(actor, referral, checked, now, request, stored)


def draft_from_emergency(
    *, resident: Resident, family_doctor: Staff, reasons: list[str], follow_up_id: int
) -> Referral:
    """An urgent up-referral draft raised by a follow-up that found an emergency (e.g. BP ≥ 180/110).

    One draft per follow-up: calling again returns the first. The family doctor reviews it, picks the
    department and a slot, and sends it.
    """
    existing = Referral.objects.filter(follow_up_id=follow_up_id, direction=Direction.UP).first()
    if existing is not None:
        return existing
    hospital = default_hospital_for(family_doctor.institution.centre)
    if hospital is None:
        raise ReferralValidationError([("hospital", "the district has no hospital to refer to")])
    reason = "; ".join(r.strip() for r in reasons if r.strip()) or "follow-up emergency"
    draft = UpReferralDraft(
        hospital=hospital,
        department=None,
        reason=reason,
        urgency=Urgency.URGENT,
        request_kind=RequestKind.VISIT,
    )
    return do_create_up_referral(None, resident, family_doctor, draft, follow_up_id=follow_up_id)


def _require(referral: Referral, *allowed: str) -> None:
    if referral.status not in allowed:
        raise ReferralStateError(f"the referral is {referral.status}")


def _lock(referral: Referral) -> Referral:
    return Referral.objects.select_for_update().get(pk=referral.pk)


def do_send(
    actor: Actor,
    referral: Referral,
    *,
    slot_id: int | None = None,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    """Send a draft up-referral to the hospital, booking a slot for it when one is picked (a reserved
    slot for the referring family doctor's signed resident)."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.DRAFT)
        if referral.department_id is None:
            raise ReferralValidationError([("department", "pick the department to refer to")])
        if slot_id is not None:
            slot = Slot.objects.filter(pk=slot_id).first()
            if slot is None or slot.department_id != referral.department_id:
                raise ReferralValidationError([("slot", "the slot is not in the referral's department")])
            referral.appointment = do_book(
                actor,
                slot_id,
                referral.resident,
                family_doctor=referral.family_doctor,
                now=now,
                request=request,
            )
        _move(referral, ReferralStatus.SENT, actor, now)
        _audit(actor, referral, Action.UPDATE, request)
    return referral


def do_accept(
    actor: Actor, referral: Referral, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Referral:
    """The hospital (or, for a down-referral, the community) accepts. An up-referral that came with a
    booked slot is booked at once."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.SENT)
        _move(referral, ReferralStatus.ACCEPTED, actor, now)
        if referral.appointment is not None and referral.appointment.status == AppointmentStatus.BOOKED:
            _move(referral, ReferralStatus.BOOKED, actor, now, "slot booked with the referral")
        _audit(actor, referral, Action.UPDATE, request)
    return referral


def do_decline(
    actor: Actor,
    referral: Referral,
    note: str,
    *,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    note = note.strip()
    if not note:
        raise ReferralValidationError([("note", "say why the referral is declined")])
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.SENT)
        if referral.appointment is not None and referral.appointment.status == AppointmentStatus.BOOKED:
            do_cancel(actor, referral.appointment, now=now, request=request)
        _move(referral, ReferralStatus.DECLINED, actor, now, note)
        _audit(actor, referral, Action.UPDATE, request)
    return referral


def do_schedule(
    actor: Actor,
    referral: Referral,
    slot_id: int,
    *,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    """The desk books a slot for an accepted up-referral; reserved slots count for the referring doctor."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.ACCEPTED)
        slot = Slot.objects.filter(pk=slot_id, hospital=referral.hospital_id).first()
        if slot is None:
            raise ReferralValidationError([("slot", "no such slot at this hospital")])
        referral.appointment = do_book(
            actor, slot_id, referral.resident, family_doctor=referral.family_doctor, now=now, request=request
        )
        _move(referral, ReferralStatus.BOOKED, actor, now)
        _audit(actor, referral, Action.UPDATE, request)
    return referral


def do_record_visit(
    actor: Actor, referral: Referral, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Referral:
    """The resident was seen: the appointment is fulfilled and the visit enters the health account as
    an outpatient encounter at the hospital, linked to the referral (it counts as a referral visit)."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.BOOKED)
        appointment = referral.appointment
        if appointment is None or appointment.status != AppointmentStatus.BOOKED:
            raise ReferralStateError("the referral has no booked appointment")
        _set_status(actor, appointment, AppointmentStatus.FULFILLED, SlotStatus.BOOKED, now, request)
        slot = appointment.slot
        referral.encounter = Encounter.objects.create(
            resident_id=referral.resident_id,
            institution_id=referral.hospital_id,
            source_system=ENCOUNTER_SOURCE,
            source_id=f"referral/{referral.pk}",
            received_at=now,
            type=EncounterType.OUTPATIENT,
            department=referral.department.name if referral.department else "",
            start=min(slot.start, now),
            end=now,
            practitioner_id=slot.specialist_id,
        )
        _move(referral, ReferralStatus.SEEN, actor, now)
        _audit(actor, referral, Action.UPDATE, request)
    return referral


def do_mark_referral_no_show(
    actor: Actor, referral: Referral, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Referral:
    """The referred resident missed the appointment; the referral goes back to accepted for a new slot."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.BOOKED)
        if referral.appointment is None:
            raise ReferralStateError("the referral has no appointment")
        do_mark_no_show(actor, referral.appointment, now=now, request=request)
        referral.appointment = None
        _move(referral, ReferralStatus.ACCEPTED, actor, now, "no-show")
        _audit(actor, referral, Action.UPDATE, request, no_show=True)
    return referral


@dataclass(frozen=True, slots=True)
class DownReferralDraft:
    """What a hospital writes when it refers a patient back (下转): where to, why, what care is needed."""

    destination: str
    reason: str
    needs: tuple[str, ...] = ()


def check_down_referral(draft: DownReferralDraft) -> None:
    errors: list[FieldError] = []
    if draft.destination not in Destination.values:
        errors.append(("destination", f"must be one of: {', '.join(Destination.values)}"))
    if not draft.reason.strip():
        errors.append(("reason", "a discharge summary is required"))
    if len(draft.reason) > REASON_MAX_LENGTH:
        errors.append(("reason", f"at most {REASON_MAX_LENGTH} characters"))
    if any(len(n) > NOTE_MAX_LENGTH for n in draft.needs):
        errors.append(("needs", f"each need has at most {NOTE_MAX_LENGTH} characters"))
    if errors:
        raise ReferralValidationError(errors)


def do_refer_down(
    actor: Actor,
    parent: Referral,
    draft: DownReferralDraft,
    *,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    """Refer a resident seen through an up-referral back to their centre; the up-referral is returned."""
    check_down_referral(draft)
    now = now or timezone.now()
    with transaction.atomic():
        parent = _lock(parent)
        _require(parent, ReferralStatus.SEEN, ReferralStatus.ACCEPTED, ReferralStatus.BOOKED)
        down = Referral.objects.create(
            direction=Direction.DOWN,
            resident_id=parent.resident_id,
            family_doctor_id=parent.family_doctor_id,
            centre_id=parent.centre_id,
            hospital_id=parent.hospital_id,
            department_id=parent.department_id,
            urgency=parent.urgency,
            request_kind=parent.request_kind,
            destination=draft.destination,
            reason=draft.reason.strip(),
            needs=[n.strip() for n in draft.needs if n.strip()],
            summary=health_summary(parent.resident),
            status=ReferralStatus.SENT,
            parent=parent,
            created_at=now,
            created_by=_user(actor),
            status_changed_at=now,
        )
        _event(down, "", ReferralStatus.SENT, actor, now)
        _audit(actor, down, Action.CREATE, request)
        _move(parent, ReferralStatus.RETURNED, actor, now, f"down-referral #{down.pk}")
        _audit(actor, parent, Action.UPDATE, request)
    return down


def do_accept_down(
    actor: Actor,
    referral: Referral,
    scheduled_on: date,
    *,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    """The centre takes the patient back and says when care starts (bed, family bed or follow-up)."""
    now = now or timezone.now()
    if scheduled_on < timezone.localdate(now) - timedelta(days=1):
        raise ReferralValidationError([("scheduled_on", "the start of care cannot be in the past")])
    with transaction.atomic():
        referral = _lock(referral)
        if referral.direction != Direction.DOWN:
            raise ReferralStateError("only a down-referral is accepted by the community")
        _require(referral, ReferralStatus.SENT)
        referral.scheduled_on = scheduled_on
        _move(referral, ReferralStatus.ACCEPTED, actor, now, f"care starts {scheduled_on.isoformat()}")
        _audit(actor, referral, Action.UPDATE, request)
    return referral


def do_cancel_referral(
    actor: Actor, referral: Referral, *, now: datetime | None = None, request: HttpRequest | None = None
) -> Referral:
    """Withdraw a draft or sent up-referral; a booked slot is given back."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = _lock(referral)
        _require(referral, ReferralStatus.DRAFT, ReferralStatus.SENT)
        if referral.appointment is not None and referral.appointment.status == AppointmentStatus.BOOKED:
            do_cancel(actor, referral.appointment, now=now, request=request)
        _move(referral, ReferralStatus.CANCELLED, actor, now)
        _audit(actor, referral, Action.UPDATE, request)
    return referral
