"""Health management (健康管理): yearly assessments, plans, chronic-disease programmes and follow-ups,
elderly care years, quarterly contacts, urgent tasks and yearly reports.

Computed columns (risks, classes, next visits) are written by `jiayi.care.services` from the pure rules
in `jiayi.care.risk` and `jiayi.care.rules`, in the same transaction as the inputs they come from.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.care.choices import (
    AssessmentClassChoice,
    CareTaskKind,
    CareTaskStatus,
    ContactChannel,
    ContactOutcome,
    DietPattern,
    DrinkingFrequency,
    EnrolmentEndReason,
    EnrolmentStatus,
    ExerciseFrequency,
    FollowUpChannel,
    FollowUpClassChoice,
    FollowUpStatus,
    HypertensionStratumChoice,
    MedicationAdherence,
    PlanItemKind,
    Programme,
    ReportStatus,
    SaltIntake,
    SelfCareAbility,
    SmokingStatus,
)
from jiayi.records.models import Condition, ElderlyExam
from jiayi.registry.models import Institution, Resident, Staff, Team


class Assessment(models.Model):
    """A resident's yearly health assessment (年度健康评估): questionnaire, measurements and the risks and
    class computed from them. One per resident and year."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="assessments")
    year = models.PositiveSmallIntegerField()
    performed_on = models.DateField()
    performed_by = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="assessments"
    )
    # Questionnaire (问卷): lifestyle
    smoking = models.CharField(max_length=12, choices=SmokingStatus.choices, default=SmokingStatus.NEVER)
    cigarettes_per_day = models.PositiveSmallIntegerField(default=0)
    drinking = models.CharField(
        max_length=12, choices=DrinkingFrequency.choices, default=DrinkingFrequency.NEVER
    )
    exercise = models.CharField(
        max_length=12, choices=ExerciseFrequency.choices, default=ExerciseFrequency.NONE
    )
    diet = models.CharField(max_length=16, choices=DietPattern.choices, default=DietPattern.BALANCED)
    salt_intake = models.CharField(max_length=8, choices=SaltIntake.choices, default=SaltIntake.MEDIUM)
    # Symptoms and history
    symptoms = models.JSONField(default=list, blank=True, help_text="症状, short codes or texts")
    history = models.JSONField(default=list, blank=True, help_text="既往史, ICD-10 codes")
    on_bp_treatment = models.BooleanField(default=False, help_text="正在服用降压药")
    has_hypertension = models.BooleanField(default=False)
    has_diabetes = models.BooleanField(default=False)
    prior_stroke_or_mi = models.BooleanField(default=False, help_text="脑卒中或心肌梗死病史")
    ckd_stage = models.PositiveSmallIntegerField(null=True, blank=True)
    discharged_or_in_rehab = models.BooleanField(default=False, help_text="出院或康复期")
    # Family history (家族史)
    family_history_ascvd = models.BooleanField(default=False)
    family_history_diabetes = models.BooleanField(default=False)
    family_history_hypertension = models.BooleanField(default=False)
    self_care_ability = models.CharField(
        max_length=12, choices=SelfCareAbility.choices, default=SelfCareAbility.INDEPENDENT
    )
    urban = models.BooleanField(default=True)
    north = models.BooleanField(default=False, help_text="China-PAR region: north of the Yangtze")
    # Measurements (体格检查 / 辅助检查)
    height_cm = models.FloatField(null=True, blank=True)
    weight_kg = models.FloatField(null=True, blank=True)
    bmi = models.FloatField(null=True, blank=True)
    waist_cm = models.FloatField(null=True, blank=True)
    sbp = models.PositiveSmallIntegerField(null=True, blank=True)
    dbp = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    fasting_glucose_mmol = models.FloatField(null=True, blank=True)
    total_cholesterol_mmol = models.FloatField(null=True, blank=True)
    hdl_mmol = models.FloatField(null=True, blank=True)
    # Computed (risk.py)
    china_par_risk = models.FloatField(null=True, blank=True, help_text="10-year ASCVD risk, a fraction")
    diabetes_score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="CDRS points")
    hypertension_stratum = models.CharField(
        max_length=16, choices=HypertensionStratumChoice.choices, blank=True
    )
    classification = models.CharField(max_length=12, choices=AssessmentClassChoice.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resident", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "year"], name="care_assessment_once_a_year"),
        ]
        indexes = [
            models.Index(fields=["year", "classification"]),
            # The worklist's "assessed since the signing started", index-only for a panel's residents.
            models.Index(fields=["resident", "performed_on"], name="care_assessment_resident_date"),
        ]

    def __str__(self) -> str:
        return f"assessment {self.year} #{self.pk}"


class PlanItem(models.Model):
    """One item of a personal health-management plan (健康管理计划), with its due date."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="plan_items")
    assessment = models.ForeignKey(
        Assessment, null=True, blank=True, on_delete=models.CASCADE, related_name="plan_items"
    )
    kind = models.CharField(max_length=16, choices=PlanItemKind.choices)
    code = models.CharField(max_length=32, help_text="Stable code, e.g. screening:ogtt")
    text = models.CharField(max_length=200)
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["resident", "due_on", "id"]
        indexes = [models.Index(fields=["resident", "done_on", "due_on"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.code}"


class ProgrammeEnrolment(models.Model):
    """A resident's enrolment in the hypertension or type-2 diabetes programme (纳入慢病管理).

    At most one active enrolment per resident and programme; ending one keeps its follow-ups.
    """

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="enrolments")
    programme = models.CharField(max_length=16, choices=Programme.choices)
    enrolled_on = models.DateField()
    enrolled_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source_condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_code = models.CharField(max_length=16, help_text="ICD-10 code of the diagnosis, e.g. I10")
    status = models.CharField(max_length=8, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EnrolmentEndReason.choices, blank=True)

    class Meta:
        ordering = ["resident", "programme", "-enrolled_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "programme"],
                condition=Q(status=EnrolmentStatus.ACTIVE),
                name="care_enrolment_one_active",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("enrolled_on")),
                name="care_enrolment_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["programme", "status"])]

    def __str__(self) -> str:
        return f"{self.programme} enrolment #{self.pk}"


class FollowUp(models.Model):
    """A follow-up (随访) of an enrolment: scheduled, then done (the form filled in) or missed.

    `resident` and `programme` repeat the enrolment's so that worklists filter and sort on one table.
    Recording a follow-up fills this row and schedules the next one as a new row.
    """

    enrolment = models.ForeignKey(ProgrammeEnrolment, on_delete=models.PROTECT, related_name="follow_ups")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="follow_ups")
    programme = models.CharField(max_length=16, choices=Programme.choices)
    scheduled_on = models.DateField()
    rescheduled_from = models.DateField(null=True, blank=True)
    performed_on = models.DateField(null=True, blank=True)
    channel = models.CharField(max_length=12, choices=FollowUpChannel.choices, blank=True)
    performed_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sbp = models.PositiveSmallIntegerField(null=True, blank=True)
    dbp = models.PositiveSmallIntegerField(null=True, blank=True)
    fasting_glucose_mmol = models.FloatField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    symptoms = models.JSONField(
        default=list, blank=True, help_text="Danger-symptom codes (rules.DangerSymptom)"
    )
    medication_adherence = models.CharField(max_length=12, choices=MedicationAdherence.choices, blank=True)
    adverse_reaction = models.BooleanField(default=False)
    adverse_reaction_note = models.CharField(max_length=200, blank=True)
    new_or_worse_complication = models.BooleanField(default=False)
    lifestyle = models.JSONField(
        default=dict, blank=True, help_text="Cigarettes/day, drinks, exercise minutes/week, salt"
    )
    classification = models.CharField(max_length=20, choices=FollowUpClassChoice.choices, blank=True)
    emergency_reasons = models.JSONField(default=list, blank=True)
    next_visit_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=FollowUpStatus.choices, default=FollowUpStatus.SCHEDULED)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["resident", "scheduled_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=FollowUpStatus.DONE) | Q(performed_on__isnull=False),
                name="care_follow_up_done_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_on"]),
            models.Index(fields=["resident", "status", "scheduled_on"]),
            models.Index(fields=["enrolment", "performed_on"]),
            # The worklist reads a panel's scheduled follow-ups and its visits of the quarter: partial
            # indexes skip the years of done follow-ups of every resident.
            models.Index(
                fields=["resident", "scheduled_on"],
                condition=Q(status=FollowUpStatus.SCHEDULED),
                name="care_follow_up_due",
            ),
            models.Index(
                fields=["resident", "performed_on"],
                condition=Q(status=FollowUpStatus.DONE),
                name="care_follow_up_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} follow-up #{self.pk} ({self.status})"


class ElderlyCareYear(models.Model):
    """The 65+ yearly health management (老年人健康管理) of one resident in one year: its four parts,
    lifestyle and health assessment, physical exam, tests and health guidance, each with the date done.

    The year counts as complete only when the linked exam form (`records.ElderlyExam`) is complete.
    """

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="elderly_care_years")
    year = models.PositiveSmallIntegerField()
    exam = models.ForeignKey(ElderlyExam, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lifestyle_assessed_on = models.DateField(null=True, blank=True)
    physical_exam_on = models.DateField(null=True, blank=True)
    tests_on = models.DateField(null=True, blank=True)
    guidance_on = models.DateField(null=True, blank=True)
    complete = models.BooleanField(default=False)

    class Meta:
        ordering = ["resident", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "year"], name="care_elderly_year_unique"),
        ]
        indexes = [
            models.Index(fields=["year", "complete"]),
            models.Index(
                fields=["resident", "year"], condition=Q(complete=True), name="care_elderly_year_complete"
            ),
        ]

    def __str__(self) -> str:
        return f"65+ care {self.year} #{self.pk}"


class Contact(models.Model):
    """An active contact with a signed resident (主动联系): channel, outcome and a short note."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="care_contacts")
    staff = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=ContactChannel.choices)
    outcome = models.CharField(max_length=12, choices=ContactOutcome.choices)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["resident", "-at", "-id"]
        indexes = [
            models.Index(fields=["resident", "at"]),
            models.Index(fields=["at"]),
            # "Reached this quarter" and "tried in the last days" for a panel, index-only.
            models.Index(fields=["resident", "outcome", "at"], name="care_contact_outcome"),
        ]

    def __str__(self) -> str:
        return f"contact #{self.pk} ({self.outcome})"


class CareTask(models.Model):
    """An urgent task for a team (待办), e.g. an emergency referral a follow-up's thresholds raised."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="care_tasks")
    kind = models.CharField(max_length=20, choices=CareTaskKind.choices)
    reasons = models.JSONField(default=list, help_text="Reason codes, e.g. rules.EmergencyReason values")
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=CareTaskStatus.choices, default=CareTaskStatus.OPEN)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="care_tasks")
    assigned_to = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    follow_up = models.ForeignKey(
        FollowUp, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    referral_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The referral draft raised with the task, if any"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"]), models.Index(fields=["resident", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} task #{self.pk} ({self.status})"


class YearlyReport(models.Model):
    """A resident's yearly personal health report (年度健康报告) as a generated Chinese PDF."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="yearly_reports")
    year = models.PositiveSmallIntegerField()
    pdf = models.BinaryField()
    generated_at = models.DateTimeField()

    class Meta:
        ordering = ["resident", "-year"]
        constraints = [models.UniqueConstraint(fields=["resident", "year"], name="care_report_once_a_year")]

    def __str__(self) -> str:
        return f"report {self.year} #{self.pk}"


class ReportBatch(models.Model):
    """Generation of the yearly reports of a whole centre, with its progress."""

    centre = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"report batch {self.year} #{self.pk} ({self.status})"
