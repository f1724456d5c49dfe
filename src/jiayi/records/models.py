"""The health account (健康档案): one lifelong record per resident, merged from every institution.

Every clinical entry says where it came from (`source_system`, `source_id`, `institution`) and when jiayi
received it. (source_system, source_id) is unique per kind of entry, so a re-sent record updates the
stored one instead of adding a second (the HAPI FHIR duplicate-create lesson: a constraint, not a check).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from jiayi.crypto.fields import EncryptedCharField
from jiayi.records import lib
from jiayi.records.choices import (
    ClinicalStatus,
    EncounterType,
    MedicationKind,
    MedicationStatus,
    ObservationCode,
    ObservationMethod,
    SchoolCheckKind,
)
from jiayi.registry.models import Institution, Resident, Staff


class ClinicalEntry(models.Model):
    """Provenance (数据来源) shared by every clinical entry: the resident, the institution that produced
    it, the sending system's identifier for it, and when jiayi received it."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="%(class)ss")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    source_system = models.CharField(
        max_length=64, help_text="The sending system, e.g. a hospital's HIS or a health post's platform."
    )
    source_id = models.CharField(
        max_length=200, help_text="The sender's identifier of this entry (identifier system|value or id)."
    )
    received_at = models.DateTimeField(help_text="When jiayi last stored a change to this entry.")

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "source_id"], name="%(app_label)s_%(class)s_unique_source"
            )
        ]


class Encounter(ClinicalEntry):
    """A visit (就诊记录): outpatient, inpatient stay, emergency, home visit or online consultation.

    Its diagnoses are the Conditions that link to it (`encounter.diagnoses`)."""

    type = models.CharField(max_length=16, choices=EncounterType.choices)
    department = models.CharField(max_length=64, blank=True, help_text="科室")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    practitioner = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="encounters"
    )

    class Meta(ClinicalEntry.Meta):
        ordering = ["resident", "start", "id"]
        indexes = [models.Index(fields=["resident", "start"]), models.Index(fields=["institution", "start"])]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.start:%Y-%m-%d}"


class Condition(ClinicalEntry):
    """A diagnosis (诊断) coded in ICD-10, optionally made at an encounter."""

    # The code stays plain: indicators select diagnoses by code prefix in SQL. The text, which may say
    # more than the code, is encrypted at rest with a random nonce (nobody looks it up by value); see
    # docs/adr/004-field-encryption.md.
    code = models.CharField(max_length=16, help_text="ICD-10, e.g. I10 or E11.9")
    display = EncryptedCharField(max_length=200, blank=True, purpose="diagnosis_text", deterministic=False)
    clinical_status = models.CharField(
        max_length=16, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE
    )
    onset_date = models.DateField(null=True, blank=True)
    recorded_date = models.DateField(null=True, blank=True)
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="diagnoses"
    )

    class Meta(ClinicalEntry.Meta):
        ordering = ["resident", "onset_date", "id"]
        indexes = [models.Index(fields=["resident", "code"]), models.Index(fields=["code"])]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        # The same rule the import applies, for entries made through forms and the admin.
        try:
            self.code = lib.normalise_icd10(self.code)
        except ValueError as exc:
            raise ValidationError({"code": str(exc)}) from None


class Observation(ClinicalEntry):
    """A measurement (检查/测量结果): vital signs, body measures, lab results, self-measurements.

    The value is stored in its code's canonical unit; what the sender sent is kept beside it."""

    code = models.CharField(max_length=16, choices=ObservationCode.choices)
    value = models.FloatField()
    unit = models.CharField(max_length=16, help_text="UCUM, the canonical unit for the code")
    effective_at = models.DateTimeField()
    method = models.CharField(
        max_length=24, choices=ObservationMethod.choices, default=ObservationMethod.CLINIC
    )
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="observations"
    )
    original_value = models.FloatField()
    original_unit = models.CharField(max_length=24)

    class Meta(ClinicalEntry.Meta):
        ordering = ["resident", "effective_at", "id"]
        indexes = [
            models.Index(fields=["resident", "code", "effective_at"]),
            models.Index(fields=["code", "effective_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.value:g} {self.unit}"


class Medication(ClinicalEntry):
    """A prescription (处方, FHIR MedicationRequest) or a record of medicine taken (用药记录,
    MedicationStatement): one table, since indicators ask "on antihypertensives?" of both."""

    kind = models.CharField(max_length=16, choices=MedicationKind.choices)
    status = models.CharField(max_length=16, choices=MedicationStatus.choices)
    medication_system = models.CharField(max_length=200, blank=True)
    medication_code = models.CharField(max_length=64, blank=True)
    medication_text = models.CharField(max_length=200)
    dosage_text = models.CharField(max_length=500, blank=True)
    authored_at = models.DateTimeField(null=True, blank=True, help_text="When prescribed (requests)")
    effective_start = models.DateField(null=True, blank=True)
    effective_end = models.DateField(null=True, blank=True)
    days_supply = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days the dispensed quantity lasts (long prescriptions: 30–60)"
    )
    prescriber = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="prescriptions"
    )
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="medications"
    )

    class Meta(ClinicalEntry.Meta):
        ordering = ["resident", "authored_at", "id"]
        indexes = [models.Index(fields=["resident", "kind", "status"])]

    def __str__(self) -> str:
        return self.medication_text


class ElderlyExam(ClinicalEntry):
    """The 65+ yearly health check-up form (老年人健康体检表) with its four parts: lifestyle and health
    assessment (生活方式和健康状况评估), physical exam (体格检查), tests (辅助检查) and health guidance
    (健康指导). Each part maps the items of `lib.ELDERLY_EXAM_PARTS` to answers."""

    exam_date = models.DateField()
    examiner = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="elderly_exams"
    )
    assessment = models.JSONField(default=dict, blank=True)
    physical = models.JSONField(default=dict, blank=True)
    tests = models.JSONField(default=dict, blank=True)
    guidance = models.JSONField(default=dict, blank=True)

    class Meta(ClinicalEntry.Meta):
        ordering = ["resident", "exam_date", "id"]
        indexes = [models.Index(fields=["resident", "exam_date"]), models.Index(fields=["exam_date"])]

    def __str__(self) -> str:
        return f"65+ exam {self.exam_date}"

    @property
    def parts(self) -> dict[str, dict[str, Any]]:
        return {
            "assessment": self.assessment,
            "physical": self.physical,
            "tests": self.tests,
            "guidance": self.guidance,
        }

    @property
    def is_complete(self) -> bool:
        return lib.is_elderly_exam_complete(self.parts)


class SchoolHealthCheck(ClinicalEntry):
    """A student's health check-up (学生健康体检) or physical fitness test (学生体质健康测试)."""

    kind = models.CharField(max_length=16, choices=SchoolCheckKind.choices)
    check_date = models.DateField()
    school = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="school_checks"
    )
    grade = models.CharField(max_length=16, blank=True, help_text="年级, e.g. 初一")
    results = models.JSONField(default=dict, blank=True, help_text="Item → result, e.g. vision_left → 4.9")

    class Meta(ClinicalEntry.Meta):
        ordering = ["resident", "check_date", "id"]
        indexes = [models.Index(fields=["resident", "check_date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.check_date}"


# Identity matching ------------------------------------------------------------------------------------


class PatientLink(models.Model):
    """A sender's identifier for a person (system|value) linked to a resident by identity matching or a
    review decision, so later records naming that identifier find the same resident."""

    system = models.CharField(max_length=200)
    value = models.CharField(max_length=64)
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="patient_links")
    source_system = models.CharField(max_length=64)
    score = models.FloatField(help_text="The match score that linked it (1 for a reviewer's decision)")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "value"], name="records_patientlink_unique_identifier")
        ]

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "待审核 Pending"
    LINKED = "linked", "已合并 Linked"
    DISTINCT = "distinct", "不同的人 Different people"


class MatchReview(models.Model):
    """A possible match (疑似重复) for a person to decide: an incoming record was kept as a provisional
    person because it resembles a resident without being certain. Linking merges the provisional person
    into the candidate; "different people" keeps both."""

    provisional = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    parts = models.JSONField(default=dict, help_text="Element → points, see records.matching")
    source_system = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-score", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"review #{self.pk} ({self.status})"


class ResidentMerge(models.Model):
    """Merging a duplicate resident into a survivor (合并档案): every record moved is listed, so the
    merge can be undone exactly (拆分)."""

    survivor = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    duplicate = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    moved = models.JSONField(default=list, help_text="[[model, id], ...] of the records moved")
    merged_at = models.DateTimeField()
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"merge #{self.pk}"


class AccountAuthorisation(models.Model):
    """A resident's authorisation (授权) for a member of their household to read their health account
    on their behalf, until `expires_on` (inclusive) or until revoked."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="account_grants")
    member = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="account_grants_received")
    granted_at = models.DateTimeField()
    expires_on = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["member", "expires_on"])]

    def __str__(self) -> str:
        return f"authorisation #{self.pk}"
