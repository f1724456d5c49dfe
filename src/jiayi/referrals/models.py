"""Referrals and appointments (转诊与预约): hospital departments, weekly schedules, slots with a share
reserved for family doctors, appointments, and referrals up to hospitals and back down."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from jiayi.referrals.choices import (
    OCCUPYING_STATUSES,
    AppointmentStatus,
    Destination,
    Direction,
    Pool,
    ReferralStatus,
    RequestKind,
    ServiceKind,
    SlotStatus,
    Urgency,
)
from jiayi.referrals.files import EXTENSIONS, attachment_storage, storage_name
from jiayi.registry.models import Institution, Resident, Staff

_SHARE = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


class HospitalPolicy(models.Model):
    """A hospital's own reserved share (预留比例) and release lead time; blank fields follow the
    district's settings (`JIAYI_RESERVED_SLOT_SHARE`, `JIAYI_RESERVED_RELEASE_HOURS`)."""

    hospital = models.OneToOneField(Institution, on_delete=models.CASCADE, related_name="referral_policy")
    reserved_share = models.DecimalField(
        max_digits=4, decimal_places=3, null=True, blank=True, validators=_SHARE
    )
    release_lead_hours = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "hospital policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved_share__isnull=True)
                | (Q(reserved_share__gte=0) & Q(reserved_share__lte=1)),
                name="hospital_policy_share_between_0_and_1",
            )
        ]

    def __str__(self) -> str:
        return f"policy of {self.hospital_id}"


class Department(models.Model):
    """A hospital department (科室) taking referrals; its reserved share overrides the hospital's."""

    hospital = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="departments")
    code = models.CharField(max_length=24)
    name = models.CharField(max_length=64)
    reserved_share = models.DecimalField(
        max_digits=4, decimal_places=3, null=True, blank=True, validators=_SHARE
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["hospital", "code"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "code"], name="department_unique_code"),
            models.CheckConstraint(
                condition=Q(reserved_share__isnull=True)
                | (Q(reserved_share__gte=0) & Q(reserved_share__lte=1)),
                name="department_share_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScheduleTemplate(models.Model):
    """A weekly session (出诊安排): on a weekday, from a start to an end time, one slot every so many
    minutes, for a specialist's consultations or a department's exams or lab tests."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="templates")
    specialist = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="schedule_templates"
    )
    service_kind = models.CharField(max_length=16, choices=ServiceKind.choices)
    weekday = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(6)], help_text="0 = Monday … 6 = Sunday"
    )
    start_time = models.TimeField()
    end_time = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(default=15, validators=[MinValueValidator(5)])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["department", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="template_ends_after"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="template_weekday_0_6"),
        ]

    def __str__(self) -> str:
        return f"{self.department} {self.weekday} {self.start_time:%H:%M}"


class Slot(models.Model):
    """One bookable time (号源) at a hospital department, in the public or the reserved pool.

    `status` mirrors the slot's occupying appointment so lists need no join; the partial unique index
    on appointments is what makes double-booking impossible. A reserved slot nobody booked moves to
    the public pool at the release lead time: `released_at` records when, once.
    """

    hospital = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="slots")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="slots")
    specialist = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="slots"
    )
    template = models.ForeignKey(
        ScheduleTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="slots"
    )
    service_kind = models.CharField(max_length=16, choices=ServiceKind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    pool = models.CharField(max_length=16, choices=Pool.choices, default=Pool.PUBLIC)
    status = models.CharField(max_length=8, choices=SlotStatus.choices, default=SlotStatus.FREE)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="When an unused reserved slot was released to the public pool"
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="slot_ends_after_start"),
            models.UniqueConstraint(
                fields=["template", "start"],
                condition=Q(template__isnull=False),
                name="slot_once_per_template_start",
            ),
        ]
        indexes = [
            models.Index(fields=["department", "start"]),
            models.Index(fields=["pool", "status", "start"]),
            models.Index(fields=["hospital", "start"]),
        ]

    def __str__(self) -> str:
        return f"slot #{self.pk} {self.start:%Y-%m-%d %H:%M} ({self.pool}, {self.status})"


class Referral(models.Model):
    """A referral (转诊): up from the family doctor to a hospital department, or down from a hospital
    back to the community (a community bed, a family bed 家庭病床, or the family doctor's follow-up).

    The summary is a snapshot of the health account when the referral was written, so the hospital
    reads what the doctor saw; attachments name the record entries sent with it, and `files` are the
    documents uploaded with it.
    """

    direction = models.CharField(max_length=8, choices=Direction.choices)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="referrals")
    family_doctor = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="referrals")
    centre = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="community_referrals",
        help_text="社区卫生服务中心",
    )
    hospital = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="hospital_referrals")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    urgency = models.CharField(max_length=12, choices=Urgency.choices, default=Urgency.ROUTINE)
    request_kind = models.CharField(max_length=16, choices=RequestKind.choices, default=RequestKind.VISIT)
    destination = models.CharField(max_length=16, choices=Destination.choices, blank=True)
    reason = models.TextField()
    needs = models.JSONField(default=list, blank=True, help_text="Rehab or nursing needs (down-referrals)")
    summary = models.JSONField(default=dict, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=ReferralStatus.choices, default=ReferralStatus.DRAFT)
    appointment = models.OneToOneField(
        "Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="referral_of"
    )
    encounter = models.ForeignKey(
        "records.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
        help_text="The up-referral a down-referral answers",
    )
    follow_up_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The follow-up whose emergency triggered this draft"
    )
    scheduled_on = models.DateField(null=True, blank=True, help_text="Down-referrals: when care starts")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction=Direction.UP) | ~Q(destination=""), name="down_referral_has_destination"
            ),
        ]
        indexes = [
            models.Index(fields=["hospital", "status"]),
            models.Index(fields=["centre", "status"]),
            models.Index(fields=["family_doctor", "status"]),
            models.Index(fields=["resident", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.direction}-referral #{self.pk} ({self.status})"


class ReferralFile(models.Model):
    """A file sent with a referral (转诊附件): a scanned report, an ECG, an X-ray image.

    The bytes live in the private attachment storage under a random name; the row keeps what readers
    need and what proves the file unchanged: its name as uploaded, the type its content proved, its
    size and SHA-256.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(storage=attachment_storage, upload_to=storage_name, max_length=200)
    name = models.CharField(max_length=200, help_text="The file's name as uploaded")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["referral", "uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=list(EXTENSIONS)), name="referral_file_accepted_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.content_type}, {self.size} bytes)"


class ReferralEvent(models.Model):
    """One status change of a referral: from, to, who and when (转诊状态记录)."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, choices=ReferralStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ReferralStatus.choices)
    note = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["referral", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class Appointment(models.Model):
    """A resident's appointment on a slot: held until `hold_expires_at`, then booked (IHE $hold/$book),
    and finally seen, missed (no-show) or cancelled.

    At most one appointment occupies a slot: the partial unique index decides between two bookings
    that both passed the checks, so a slot is never given twice whatever the database.
    """

    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="appointments")
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices)
    pool = models.CharField(max_length=16, choices=Pool.choices, help_text="The slot's pool when booked")
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    family_doctor = models.ForeignKey(
        Staff,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="booked_appointments",
        help_text="The family doctor who booked a reserved slot",
    )
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["slot__start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status__in=OCCUPYING_STATUSES), name="appointment_one_per_slot"
            ),
            models.CheckConstraint(
                condition=~Q(status=AppointmentStatus.HELD) | Q(hold_expires_at__isnull=False),
                name="appointment_hold_has_expiry",
            ),
        ]
        indexes = [
            models.Index(fields=["resident", "status"]),
            models.Index(fields=["status", "hold_expires_at"]),
        ]

    def __str__(self) -> str:
        return f"appointment #{self.pk} ({self.status})"


class SlotRelease(models.Model):
    """The log of one run of the release task: when, with which lead time, which slots it freed."""

    at = models.DateTimeField()
    lead_hours = models.PositiveSmallIntegerField()
    released = models.PositiveIntegerField()
    slot_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"release {self.at:%Y-%m-%d %H:%M}: {self.released}"
