"""Choices of referrals and appointments, in English with their Chinese labels."""

from django.db import models


class ServiceKind(models.TextChoices):
    """What a slot (号源) is for: a specialist consultation, an exam, or a lab test."""

    CONSULTATION = "consultation", "专家门诊 Consultation"
    EXAM = "exam", "检查 Exam"
    LAB = "lab", "检验 Lab test"


class Pool(models.TextChoices):
    """Who may book a slot: anyone, or family doctors for their signed residents (预留号源)."""

    PUBLIC = "public", "公众号源 Public"
    RESERVED = "reserved", "家庭医生预留 Reserved for family doctors"


class SlotStatus(models.TextChoices):
    FREE = "free", "可预约 Free"
    HELD = "held", "锁定中 Held"
    BOOKED = "booked", "已预约 Booked"


class AppointmentStatus(models.TextChoices):
    HELD = "held", "锁定中 Held"
    BOOKED = "booked", "已预约 Booked"
    FULFILLED = "fulfilled", "已就诊 Seen"
    NO_SHOW = "no_show", "爽约 No-show"
    CANCELLED = "cancelled", "已取消 Cancelled"
    EXPIRED = "expired", "锁定过期 Hold expired"


# An appointment in one of these states occupies its slot; the database allows one per slot.
OCCUPYING_STATUSES = (
    AppointmentStatus.HELD,
    AppointmentStatus.BOOKED,
    AppointmentStatus.FULFILLED,
    AppointmentStatus.NO_SHOW,
)


class Direction(models.TextChoices):
    UP = "up", "上转 Up-referral"
    DOWN = "down", "下转 Down-referral"


class Urgency(models.TextChoices):
    """How soon the hospital should see the patient; the desk's list is sorted by it."""

    EMERGENCY = "emergency", "急诊 Emergency"
    URGENT = "urgent", "优先 Urgent"
    ROUTINE = "routine", "常规 Routine"


URGENCY_RANK = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}


class RequestKind(models.TextChoices):
    """What an up-referral asks the hospital for (优先就诊/检查/住院/会诊)."""

    VISIT = "visit", "优先就诊 Priority visit"
    EXAM = "exam", "优先检查 Priority exam"
    LAB = "lab", "优先检验 Priority lab test"
    ADMISSION = "admission", "优先住院 Priority admission"
    CONSULTATION = "consultation", "会诊 Consultation"


class Destination(models.TextChoices):
    """Where a down-referral sends the patient back to."""

    COMMUNITY_BED = "community_bed", "社区康复/护理床位 Community bed"
    FAMILY_BED = "family_bed", "家庭病床 Family bed"
    FOLLOW_UP = "follow_up", "家庭医生随访 Family doctor's follow-up"


class ReferralStatus(models.TextChoices):
    DRAFT = "draft", "草稿 Draft"
    SENT = "sent", "已发送 Sent"
    ACCEPTED = "accepted", "已接收 Accepted"
    BOOKED = "booked", "已预约 Booked"
    SEEN = "seen", "已就诊 Seen"
    RETURNED = "returned", "已回转 Returned"
    DECLINED = "declined", "已拒绝 Declined"
    CANCELLED = "cancelled", "已撤销 Cancelled"


# Referrals still waiting for someone to act; closed ones are returned, declined or cancelled.
OPEN_REFERRAL_STATUSES = (
    ReferralStatus.DRAFT,
    ReferralStatus.SENT,
    ReferralStatus.ACCEPTED,
    ReferralStatus.BOOKED,
    ReferralStatus.SEEN,
)
