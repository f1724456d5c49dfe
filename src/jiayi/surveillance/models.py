"""Sentinel data, detector settings, alert rules, and the alerts a CDC officer works through."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jiayi.registry.models import Institution, Place, Resident


class UnitKind(models.TextChoices):
    FEVER_CLINIC = "fever_clinic", "发热哨点诊室 Fever sentinel clinic"
    CENTRE = "centre", "社区卫生服务中心 Community health centre"
    SCHOOL = "school", "学校 School"
    SUB_DISTRICT = "sub_district", "街道/镇 Sub-district"


class Syndrome(models.TextChoices):
    """Syndromes and notifiable diseases counted per unit and day: one code space for both."""

    FEVER = "fever", "发热 Fever"
    RESPIRATORY = "respiratory", "呼吸道症状 Respiratory"
    DIARRHOEA = "diarrhoea", "腹泻 Diarrhoea"
    RASH = "rash", "皮疹 Rash"
    INFLUENZA = "influenza", "流行性感冒 Influenza"
    HFMD = "hfmd", "手足口病 Hand, foot and mouth disease"
    NOROVIRUS = "norovirus", "诺如病毒感染 Norovirus"
    MEASLES = "measles", "麻疹 Measles"
    CHOLERA = "cholera", "霍乱 Cholera"
    PLAGUE = "plague", "鼠疫 Plague"


class SignalKind(models.TextChoices):
    ABSENTEEISM = "absenteeism", "因病缺勤 School absenteeism"
    PUBLIC_REPORT = "public_report", "群众报告 Report from the public"


class LabOutcome(models.TextChoices):
    PENDING = "pending", "待检 Pending"
    POSITIVE = "positive", "阳性 Positive"
    NEGATIVE = "negative", "阴性 Negative"


class DetectorName(models.TextChoices):
    EARS_C1 = "ears_c1", "EARS C1"
    EARS_C2 = "ears_c2", "EARS C2"
    EARS_C3 = "ears_c3", "EARS C3"
    FARRINGTON = "farrington", "Farrington"
    IMPROVED_FARRINGTON = "improved_farrington", "改进 Farrington Improved Farrington"
    MOVING_PERCENTILE = "moving_percentile", "移动百分位数 CIDARS moving percentile"


class RuleKind(models.TextChoices):
    DETECTORS_AGREE = "detectors_agree", "多个算法一致 k detectors agree"
    ADJACENT_UNITS = "adjacent_units", "相邻单位同时预警 n adjacent units signal"
    CLASS_A_CASE = "class_a_case", "甲类传染病单病例 Any case of a class-A disease"
    COMBINED_EVIDENCE = "combined_evidence", "综合证据 Detectors' evidence combined over days"
    SPACE_TIME_SCAN = "space_time_scan", "时空扫描 Space-time permutation scan cluster"


class AlertState(models.TextChoices):
    SIGNAL = "signal", "信号 Signal"
    ASSIGNED = "assigned", "已分派 Assigned"
    VERIFIED = "verified", "已核实 Verified"
    DISMISSED = "dismissed", "已排除 Dismissed"
    RESPONSE = "response", "响应中 Response"
    CLOSED = "closed", "已结案 Closed"


class ReportingUnit(models.Model):
    """A place that reports daily counts: a fever sentinel clinic, a centre, a school or a sub-district.

    `centre` is the community health centre the unit belongs to, which decides what a centre manager
    may read; coordinates place it on the map and define which units are adjacent.
    """

    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=UnitKind.choices)
    institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="reporting_units"
    )
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    centre = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.SET_NULL, related_name="surveillance_units"
    )
    lat = models.FloatField()
    lon = models.FloatField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class DailyCount(models.Model):
    """One unit's count of a syndrome or disease on one day. A correction is a new row with the next
    revision number; the highest revision is the count."""

    unit = models.ForeignKey(ReportingUnit, on_delete=models.CASCADE, related_name="counts")
    date = models.DateField()
    code = models.CharField(max_length=16, choices=Syndrome.choices)
    count = models.PositiveIntegerField()
    revision = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["unit", "code", "date", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "code", "date", "revision"], name="surv_count_revision")
        ]
        indexes = [models.Index(fields=["code", "date"])]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.code} {self.date}: {self.count} (r{self.revision})"


class CaseReport(models.Model):
    """A reported case of a syndrome or notifiable disease, by onset date and place."""

    code = models.CharField(max_length=16, choices=Syndrome.choices)
    onset_date = models.DateField()
    reported_on = models.DateField()
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(
        ReportingUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="case_reports"
    )
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-reported_on", "id"]

    def __str__(self) -> str:
        return f"{self.code} onset {self.onset_date}"


class LabResult(models.Model):
    """A laboratory result for a case report or a unit's sample."""

    case = models.ForeignKey(
        CaseReport, null=True, blank=True, on_delete=models.CASCADE, related_name="lab_results"
    )
    unit = models.ForeignKey(ReportingUnit, on_delete=models.PROTECT, related_name="lab_results")
    sampled_on = models.DateField()
    pathogen = models.CharField(max_length=64)
    outcome = models.CharField(max_length=8, choices=LabOutcome.choices, default=LabOutcome.PENDING)

    def __str__(self) -> str:
        return f"{self.pathogen} {self.outcome}"


class GenericObservation(models.Model):
    """A value of another signal series (school absenteeism rate, reports from the public) per day."""

    unit = models.ForeignKey(ReportingUnit, on_delete=models.CASCADE, related_name="observations")
    kind = models.CharField(max_length=16, choices=SignalKind.choices)
    date = models.DateField()
    value = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "kind", "date"], name="surv_observation_day")]

    def __str__(self) -> str:
        return f"{self.kind} {self.date}: {self.value}"


class DetectorSetting(models.Model):
    """Which detector runs over one unit's series of one code, with its keyword settings."""

    unit = models.ForeignKey(ReportingUnit, on_delete=models.CASCADE, related_name="detector_settings")
    code = models.CharField(max_length=16, choices=Syndrome.choices)
    detector = models.CharField(max_length=24, choices=DetectorName.choices)
    parameters = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["unit", "code", "detector"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "code", "detector"], name="surv_setting_unique")
        ]

    def __str__(self) -> str:
        return f"{self.detector} on {self.unit_id}/{self.code}"


class AlertRule(models.Model):
    """An alert rule as data: its kind and the parameters of that kind (see `rules.RULE_PARAMETERS`)."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Signal(models.Model):
    """A day on which a detector alarmed for one setting's series, with what it saw."""

    setting = models.ForeignKey(DetectorSetting, on_delete=models.CASCADE, related_name="signals")
    date = models.DateField()
    count = models.FloatField()
    expected = models.FloatField(null=True)
    threshold = models.FloatField(null=True)
    score = models.FloatField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-date", "setting"]
        constraints = [models.UniqueConstraint(fields=["setting", "date"], name="surv_signal_day")]

    def __str__(self) -> str:
        return f"signal {self.setting_id} {self.date}"


class DetectionRun(models.Model):
    """A full detection run for a day, so a late correction knows which days to detect again."""

    as_of = models.DateField(unique=True)
    ran_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"detection for {self.as_of}"


class Alert(models.Model):
    """An alert opened by a rule, worked through signal → assigned → verified/dismissed → response →
    closed. `key` names what triggered it (units, code, case), so a rerun finds it again."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    key = models.CharField(max_length=200)
    opened_on = models.DateField()
    code = models.CharField(max_length=16, choices=Syndrome.choices)
    units = models.ManyToManyField(ReportingUnit, related_name="alerts")
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.SIGNAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    snapshot = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "key", "opened_on"], name="surv_alert_once_a_day")
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} {self.code} {self.opened_on}"


class AlertEvent(models.Model):
    """One step of an alert's workflow: who moved it from which state to which, when, and why."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, choices=AlertState.choices, blank=True)
    to_state = models.CharField(max_length=16, choices=AlertState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"


class Notification(models.Model):
    """An outbox row: one message to one recipient about an alert, delivered by the gateway of
    `jiayi.surveillance.notify` (log, e-mail, or another plugged in); `sent_at` stays empty until then,
    `attempts` and `error` tell why it has not gone out yet."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["sent_at", "id"], name="surv_notification_outbox")]

    def __str__(self) -> str:
        return self.subject
