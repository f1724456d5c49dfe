"""Choices of health management (健康管理), in English with their Chinese labels."""

from django.db import models


class SmokingStatus(models.TextChoices):
    """吸烟情况."""

    NEVER = "never", "从不吸烟 Never"
    FORMER = "former", "已戒烟 Former"
    CURRENT = "current", "吸烟 Current"


class DrinkingFrequency(models.TextChoices):
    """饮酒频率."""

    NEVER = "never", "从不 Never"
    OCCASIONAL = "occasional", "偶尔 Occasional"
    WEEKLY = "weekly", "经常 Weekly"
    DAILY = "daily", "每天 Daily"


class ExerciseFrequency(models.TextChoices):
    """锻炼频率."""

    NONE = "none", "不锻炼 None"
    OCCASIONAL = "occasional", "偶尔 Occasional"
    WEEKLY = "weekly", "每周一次以上 Weekly"
    DAILY = "daily", "每天 Daily"


class DietPattern(models.TextChoices):
    """饮食习惯."""

    BALANCED = "balanced", "荤素均衡 Balanced"
    MEAT_HEAVY = "meat_heavy", "荤食为主 Mostly meat"
    VEGETABLE_HEAVY = "vegetable_heavy", "素食为主 Mostly vegetables"


class SaltIntake(models.TextChoices):
    """摄盐情况."""

    LIGHT = "light", "轻 Light"
    MEDIUM = "medium", "中 Medium"
    HEAVY = "heavy", "重 Heavy"


class SelfCareAbility(models.TextChoices):
    """老年人生活自理能力 (the spec's self-care score: 0–3, 4–8, 9–18, ≥19)."""

    INDEPENDENT = "independent", "可自理 Independent"
    MILD = "mild", "轻度依赖 Mildly dependent"
    MODERATE = "moderate", "中度依赖 Moderately dependent"
    DEPENDENT = "dependent", "不能自理 Dependent"


class AssessmentClassChoice(models.TextChoices):
    """The class a yearly assessment gives (mirrors `risk.AssessmentClass`)."""

    HEALTHY = "healthy", "健康人群 Healthy"
    HIGH_RISK = "high_risk", "高危人群 High risk"
    PATIENT = "patient", "患病人群 Patient"
    RECOVERING = "recovering", "康复人群 Recovering"


class HypertensionStratumChoice(models.TextChoices):
    """Mirrors `risk.HypertensionRiskStratum`."""

    NOT_STRATIFIED = "not_stratified", "不分层 Not stratified"
    LOW = "low", "低危 Low"
    MEDIUM = "medium", "中危 Medium"
    MEDIUM_HIGH = "medium_high", "中/高危 Medium-high"
    HIGH = "high", "高危 High"
    HIGH_VERY_HIGH = "high_very_high", "高/很高危 High-very high"
    VERY_HIGH = "very_high", "很高危 Very high"


class PlanItemKind(models.TextChoices):
    """The parts of a personal health-management plan (个人健康管理计划)."""

    FOLLOW_UP = "follow_up", "随访 Follow-up"
    SCREENING = "screening", "筛查 Screening"
    LIFESTYLE_GOAL = "lifestyle_goal", "生活方式目标 Lifestyle goal"
    EDUCATION_TOPIC = "education_topic", "健康教育 Education topic"


class Programme(models.TextChoices):
    """Chronic-disease management programmes (慢病管理) of the national spec."""

    HYPERTENSION = "hypertension", "高血压患者健康管理 Hypertension"
    DIABETES = "diabetes", "2型糖尿病患者健康管理 Type-2 diabetes"
    MENTAL_REHAB = "mental_rehab", "严重精神障碍患者社区康复 Mental health community rehabilitation"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", "管理中 Active"
    ENDED = "ended", "已结案 Ended"


class EnrolmentEndReason(models.TextChoices):
    DEATH = "death", "死亡 Death"
    MOVED_AWAY = "moved_away", "迁出 Moved away"
    DIAGNOSIS_REVISED = "diagnosis_revised", "诊断修正 Diagnosis revised"
    DECLINED = "declined", "拒绝管理 Declined"


class FollowUpChannel(models.TextChoices):
    """随访方式."""

    CLINIC = "clinic", "门诊 Clinic"
    HOME_VISIT = "home_visit", "家庭 Home visit"
    PHONE = "phone", "电话 Phone"
    ONLINE = "online", "互联网 Online"


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", "待随访 Scheduled"
    DONE = "done", "已随访 Done"
    MISSED = "missed", "失访 Missed"


class MedicationAdherence(models.TextChoices):
    """服药依从性."""

    REGULAR = "regular", "规律 Regular"
    INTERMITTENT = "intermittent", "间断 Intermittent"
    NONE = "none", "不服药 Not taking"


class FollowUpClassChoice(models.TextChoices):
    """此次随访分类 (mirrors `rules.FollowUpClass`)."""

    CONTROLLED = "controlled", "控制满意 Controlled"
    FIRST_UNCONTROLLED = "first_uncontrolled", "控制不满意（首次） First uncontrolled"
    UNCONTROLLED_TWICE = "uncontrolled_twice", "连续两次控制不满意 Uncontrolled twice"
    ADVERSE_REACTION = "adverse_reaction", "药物不良反应 Adverse reaction"
    COMPLICATION = "complication", "新发或加重的并发症 Complication"


class ContactChannel(models.TextChoices):
    """主动联系方式."""

    PHONE = "phone", "电话 Phone"
    WECHAT = "wechat", "微信 WeChat"
    VISIT = "visit", "上门/到诊 Visit"
    ONLINE_MESSAGE = "online_message", "线上消息 Online message"


class ContactOutcome(models.TextChoices):
    REACHED = "reached", "已联系上 Reached"
    UNREACHABLE = "unreachable", "未联系上 Unreachable"


class CareTaskKind(models.TextChoices):
    EMERGENCY_REFERRAL = "emergency_referral", "紧急转诊 Emergency referral"
    REFERRAL = "referral", "转诊 Referral"
    HOME_VISIT = "home_visit", "上门随访 Home visit"


class CareTaskStatus(models.TextChoices):
    OPEN = "open", "待处理 Open"
    DONE = "done", "已处理 Done"
    CANCELLED = "cancelled", "已取消 Cancelled"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "排队中 Queued"
    RUNNING = "running", "生成中 Running"
    DONE = "done", "已完成 Done"
    FAILED = "failed", "失败 Failed"
