"""Choices of family-doctor signing, in English with their Chinese labels."""

from django.db import models


class PackageKind(models.TextChoices):
    """What kind of service package (服务包) a signing takes."""

    BASIC = "basic", "基础服务包 Basic"
    EXTENDED = "extended", "个性化服务包（付费） Extended (paid)"
    HOUSEHOLD = "household", "家庭服务包 Household"
    FUNCTIONAL_COMMUNITY = "functional_community", "功能社区服务包 Functional community"


class SigningChannel(models.TextChoices):
    """Where the signing was made."""

    COUNTER = "counter", "窗口签约 At the counter"
    ONLINE = "online", "互联网签约 Online"
    FUNCTIONAL_COMMUNITY = "functional_community", "功能社区签约 In a functional community"
    CARE_HOME = "care_home", "养老机构签约 In a care home"


class SigningStatus(models.TextChoices):
    PENDING = "pending", "待确认 Pending"
    ACTIVE = "active", "有效 Active"
    EXPIRED = "expired", "已到期 Expired"
    TERMINATED = "terminated", "已解约 Terminated"
    TRANSFERRED = "transferred", "已转签 Transferred"
    DECLINED = "declined", "未通过 Declined"


# A resident holds at most one signing in these states; the database enforces it.
OPEN_STATUSES = (SigningStatus.PENDING, SigningStatus.ACTIVE)


class TerminationReason(models.TextChoices):
    """Why a signing ended before its time (解约原因)."""

    DEATH = "death", "死亡 Death"
    MOVED_AWAY = "moved_away", "迁出 Moved away"
    RESIDENT_REQUEST = "resident_request", "居民申请 Resident's request"
    OTHER = "other", "其他 Other"


class ChangeReason(models.TextChoices):
    """Why a signing's status changed: every signing event carries one."""

    NEW = "new", "新签约 New signing"
    CONFIRMED = "confirmed", "确认签约 Confirmed"
    DECLINED = "declined", "不予签约 Declined"
    DEATH = "death", "死亡 Death"
    MOVED_AWAY = "moved_away", "迁出 Moved away"
    RESIDENT_REQUEST = "resident_request", "居民申请 Resident's request"
    OTHER = "other", "其他 Other"
    RENEWED = "renewed", "续约 Renewed"
    ENDED = "ended", "期满未续约 Period ended without renewal"
    DOCTOR_SWITCH = "doctor_switch", "续约时更换医生 Doctor switched at renewal"
    PANEL_TRANSFER = "panel_transfer", "医生离岗转签 Doctor left, panel transferred"
    MID_PERIOD_SWITCH = "mid_period_switch", "期内更换医生 Doctor switched within the period"


class ConsentKind(models.TextChoices):
    """What a resident agreed to. PIPL art. 29 asks for a separate consent for sensitive personal
    information (medical data), so it is its own kind, not a clause of the signing agreement."""

    SIGNING = "signing", "签约服务协议 Signing agreement"
    SENSITIVE_PERSONAL_INFORMATION = (
        "sensitive_personal_information",
        "敏感个人信息处理同意 Processing of sensitive personal information",
    )
