"""The indicator fact tables (指标事实表): one row per resident and period, one per counted unit.

A period is a kind (year or quarter) and a reference date (as of). Rows hold what the declarations ask
about a resident on that date, so every indicator at every level is a filtered count over one table.
Unit ids are plain integers, not foreign keys: the table is a snapshot read by several engines, and a
changed registry row must never block or cascade into it.
"""

from __future__ import annotations

from django.db import models

from jiayi.registry.models import Resident


class PeriodKind(models.TextChoices):
    YEAR = "year", "年度 Year to date"
    QUARTER = "quarter", "季度 Quarter to date"


class FactPeriod(models.Model):
    """A period the fact tables are kept for: from `starts_on` to the reference date `as_of`."""

    kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    starts_on = models.DateField()
    as_of = models.DateField()
    built_at = models.DateTimeField()
    counts_key = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="Fingerprint of the declarations the kept counts were made for; empty: none kept",
    )

    class Meta:
        ordering = ["-as_of", "kind"]
        constraints = [models.UniqueConstraint(fields=["kind", "as_of"], name="fact_period_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.starts_on}..{self.as_of}"


class ResidentFact(models.Model):
    """What the indicators need to know about one resident in one period (居民指标事实)."""

    period = models.ForeignKey(FactPeriod, on_delete=models.CASCADE, related_name="resident_facts")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    # Where the resident is counted: the committee's street and district, the signing's centre, team
    # and family doctor (the committee's responsible centre, serving team and designated doctor when
    # the resident has not signed).
    district_id = models.IntegerField(null=True)
    street_id = models.IntegerField(null=True)
    committee_id = models.IntegerField(null=True)
    centre_id = models.IntegerField(null=True)
    team_id = models.IntegerField(null=True)
    doctor_id = models.IntegerField(null=True)
    age = models.SmallIntegerField()
    lives_here = models.BooleanField(help_text="常住 and alive on the reference date")
    signed = models.BooleanField(help_text="An active signing on the reference date")
    key_population = models.BooleanField()
    htn = models.BooleanField(help_text="Hypertension under management")
    htn_followups = models.SmallIntegerField()
    htn_standard = models.BooleanField()
    htn_controlled = models.BooleanField()
    dm = models.BooleanField(help_text="Type-2 diabetes under management")
    dm_followups = models.SmallIntegerField()
    dm_standard = models.BooleanField()
    dm_controlled = models.BooleanField()
    elderly_exam = models.BooleanField(help_text="A 65+ physical exam in the period")
    elderly_managed = models.BooleanField(help_text="Record, exam, guidance and a complete form")
    has_ehr = models.BooleanField()
    ehr_dynamic = models.BooleanField(help_text="An entry in the 12 months to the reference date")
    ehr_standard = models.BooleanField()
    visits = models.IntegerField(help_text="Outpatient visits in the period")
    visits_in_combination = models.IntegerField()
    visits_at_signing_centre = models.IntegerField()
    visits_primary_care = models.IntegerField()
    assessed = models.BooleanField(default=False, help_text="A yearly health assessment in the year")
    contacted_each_quarter = models.BooleanField(default=False)
    report_sent = models.BooleanField(default=False)
    mental = models.BooleanField(default=False, help_text="Severe mental disorder on the register")
    mental_rehab = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "resident"], name="resident_fact_unique"),
        ]
        indexes = [
            models.Index(fields=["period", "doctor_id"]),
            models.Index(fields=["period", "team_id"]),
            models.Index(fields=["period", "centre_id"]),
            models.Index(fields=["period", "street_id"]),
        ]

    def __str__(self) -> str:
        return f"facts of resident #{self.resident_id} in period #{self.period_id}"


class UnitKind(models.TextChoices):
    COMMITTEE = "committee", "居委会 Committee"
    GP = "gp", "全科医生 Registered GP"
    CENTRE = "centre", "社区卫生服务中心 Centre"
    SMART_POST = "smart_post", "智慧健康驿站 Smart health post"
    SLOT = "slot", "号源 Hospital slot"


class UnitFact(models.Model):
    """A counted thing that is not a resident: a committee, a GP, a centre, a smart health post or a
    hospital slot (counted at its hospital)."""

    period = models.ForeignKey(FactPeriod, on_delete=models.CASCADE, related_name="unit_facts")
    kind = models.CharField(max_length=12, choices=UnitKind.choices)
    ref_id = models.IntegerField(help_text="The place, staff member or institution counted")
    district_id = models.IntegerField(null=True)
    street_id = models.IntegerField(null=True)
    centre_id = models.IntegerField(null=True)
    team_id = models.IntegerField(null=True)
    doctor_id = models.IntegerField(null=True)
    hospital_id = models.IntegerField(null=True, help_text="Slot: the hospital offering it")
    flag = models.BooleanField(
        help_text="Committee: has a designated doctor; post: opened in the period; slot: booked by a "
        "family doctor from the reserved pool; otherwise true"
    )
    reserved = models.BooleanField(
        default=False, help_text="Slot: generated into the pool reserved for family doctors"
    )
    released = models.BooleanField(default=False, help_text="Slot: released unused to the public pool")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "kind", "ref_id"], name="unit_fact_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ref_id} in period #{self.period_id}"


class IndicatorCount(models.Model):
    """One side of one indicator at one unit in one period (指标结果), kept current with the fact rows.

    `amount` is the side's count (or sum) at the unit; `members` is how many rows of the side's source
    table the unit holds, so a unit is listed exactly when a query over the facts would group it. A
    board reads a few hundred of these rows instead of aggregating every resident's facts."""

    period = models.ForeignKey(FactPeriod, on_delete=models.CASCADE, related_name="counts")
    level = models.CharField(max_length=8)
    unit_id = models.IntegerField()
    code = models.CharField(max_length=64)
    side = models.CharField(max_length=3, help_text="num or den")
    amount = models.BigIntegerField()
    members = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "level", "code", "side", "unit_id"], name="indicator_count_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.side} at {self.level} #{self.unit_id} in period #{self.period_id}"
