"""Family-doctor signing (家庭医生签约): service packages, signings, their history, and consent."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Household, Institution, Place, Resident, Staff, Team
from jiayi.signing.choices import (
    OPEN_STATUSES,
    ChangeReason,
    ConsentKind,
    PackageKind,
    SigningChannel,
    SigningStatus,
)


class ServicePackage(models.Model):
    """A service package (服务包) a district offers in a year: what a signing promises the resident.

    The promised services are columns rather than free text so that worklists and indicators can ask
    "how many contacts does this resident's package promise" without parsing anything.
    """

    district = models.ForeignKey(
        Place,
        on_delete=models.PROTECT,
        related_name="service_packages",
        limit_choices_to={"level": PlaceLevel.DISTRICT},
    )
    year = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=24, choices=PackageKind.choices)
    price = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("0.00"), help_text="Yuan per person per year"
    )
    yearly_assessment = models.BooleanField(default=True, help_text="年度健康评估 Yearly health assessment")
    contacts_per_year = models.PositiveSmallIntegerField(
        default=4, help_text="主动联系 Active contacts a year (4 = quarterly)"
    )
    long_prescription_days = models.PositiveSmallIntegerField(
        default=0, help_text="长处方 Longest prescription in days (0 = none)"
    )
    continued_hospital_prescriptions = models.BooleanField(
        default=False, help_text="延伸处方 Hospital prescriptions continued in the community"
    )
    home_visits_per_year = models.PositiveSmallIntegerField(
        default=0, help_text="上门服务 Home visits a year"
    )
    priority_referral = models.BooleanField(default=True, help_text="优先转诊 Priority referral and booking")
    yearly_report = models.BooleanField(default=True, help_text="年度健康报告 Yearly personal report")
    other_services = models.JSONField(
        default=list, blank=True, help_text="Further promised services, one short description each"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["district", "-year", "code"]
        constraints = [
            models.UniqueConstraint(fields=["district", "year", "code"], name="service_package_unique_code"),
            models.CheckConstraint(condition=Q(price__gte=0), name="service_package_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.year})"


class Consent(models.Model):
    """A resident's recorded consent (知情同意), separate per purpose and withdrawable (PIPL art. 28–29).

    `recorded_by` is the login that recorded it (a doctor at the counter, or the resident online);
    `proxy` is the household member who consented on the resident's behalf, for a child or a person
    who cannot sign for themselves.
    """

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=32, choices=ConsentKind.choices)
    text_version = models.CharField(max_length=32, help_text="Version of the text the resident agreed to")
    accepted_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proxy = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="consents_given_for_others"
    )

    class Meta:
        ordering = ["resident", "-accepted_at"]
        indexes = [models.Index(fields=["resident", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=models.F("accepted_at")),
                name="consent_withdrawn_after_accepted",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.text_version} #{self.pk}"

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


class Signing(models.Model):
    """A resident's signing (签约) with a family doctor, optionally "1+1+1" with a district-level and a
    municipal hospital, and optionally a specialist for double signing (双签约).

    A resident has at most one pending or active signing: a partial unique index enforces it, so two
    counters signing the same resident at once cannot both succeed. Renewals and transfers create a new
    signing linked to the one before it; the old one keeps its period and ends as expired or
    transferred, so a resident's history is the chain of their signings.
    """

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="signings")
    family_doctor = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="signings")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="signings")
    centre = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="signings",
        help_text="The community health centre (社区卫生服务中心) the family doctor works for",
    )
    district_hospital = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="district_tier_signings"
    )
    municipal_hospital = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="municipal_tier_signings"
    )
    specialist = models.ForeignKey(
        Staff,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="double_signings",
        help_text="专科医生 for a specialist + family doctor double signing (双签约)",
    )
    household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signings",
        help_text="Set when the household signed together (家庭签约)",
    )
    package = models.ForeignKey(ServicePackage, on_delete=models.PROTECT, related_name="signings")
    channel = models.CharField(max_length=24, choices=SigningChannel.choices)
    status = models.CharField(max_length=16, choices=SigningStatus.choices, default=SigningStatus.PENDING)
    starts_on = models.DateField()
    ends_on = models.DateField()
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="signings")
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="successors",
        help_text="The signing this one renews or takes over",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(status__in=OPEN_STATUSES),
                name="signing_one_open_per_resident",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="signing_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["family_doctor", "status"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["centre", "status"]),
            models.Index(fields=["status", "ends_on"]),
        ]

    def __str__(self) -> str:
        return f"signing #{self.pk} ({self.status})"

    @property
    def institution_count(self) -> int:
        return 1 + (self.district_hospital_id is not None) + (self.municipal_hospital_id is not None)


class SigningEvent(models.Model):
    """One status change of a signing: from, to, why, who and when (签约状态变更记录).

    Written by the services only, in the same transaction as the change, so the history is complete.
    """

    signing = models.ForeignKey(Signing, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(
        max_length=16,
        choices=SigningStatus.choices,
        blank=True,
        help_text="Blank when the signing is created",
    )
    to_status = models.CharField(max_length=16, choices=SigningStatus.choices)
    reason = models.CharField(max_length=24, choices=ChangeReason.choices)
    note = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["signing", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status} ({self.reason})"


class ReminderStatus(models.TextChoices):
    QUEUED = "queued", "待发送 Queued"
    SENT = "sent", "已发送 Sent"
    FAILED = "failed", "发送失败 Failed"


class ReminderMessage(models.Model):
    """A message to a resident waiting in the outbox (消息发件箱) until a gateway sends it.

    One renewal reminder per signing and period: the unique constraint makes queuing idempotent even
    when two runs overlap. The recipient's phone is looked up at sending time, so a number corrected
    meanwhile is used and the outbox holds no copy of it.
    """

    signing = models.ForeignKey(Signing, on_delete=models.CASCADE, related_name="reminders")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, default="renewal")
    period_ends_on = models.DateField(help_text="End of the signing period the reminder is about")
    body = models.CharField(max_length=300)
    status = models.CharField(max_length=8, choices=ReminderStatus.choices, default=ReminderStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["signing", "kind", "period_ends_on"], name="reminder_once_per_signing_period"
            )
        ]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} reminder #{self.pk} ({self.status})"
