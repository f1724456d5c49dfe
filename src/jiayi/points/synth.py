"""Synthetic health points, education and feedback for a generated district.

Runs on a district made by `jiayi.synth.generate_district(cfg, signings=True, histories=True)`: loads the
default rules, the article library and a catalogue, delivers articles by each resident's conditions and
age, lets some read them, pays every verified action through the ledger replay, takes a few redemptions,
and adds a satisfaction survey with answers and complaints in every handling state. Deterministic per
seed; rows go in with bulk inserts, so 100k residents take seconds, not minutes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from jiayi.education.library import ensure_library
from jiayi.education.models import Article, Channel, Delivery, Reading
from jiayi.feedback.models import (
    Answer,
    Category,
    Complaint,
    ComplaintEvent,
    Question,
    Status,
    Survey,
    SurveyResponse,
)
from jiayi.points import services
from jiayi.points.models import CatalogueItem, EntryKind, PointAccount, PointEntry, Redemption
from jiayi.points.rules import check_redemption
from jiayi.records.choices import ClinicalStatus
from jiayi.records.models import Condition
from jiayi.registry.models import Institution, Resident, Staff
from jiayi.synth.config import SynthConfig
from jiayi.synth.writer import insert_rows, reset_sequence

_BATCH = 5_000
DELIVERY_SHARE = 0.35  # residents reached by the app or the clinic in the year
READ_SHARE = 0.45  # deliveries opened
SURVEY_SHARE = 0.06
COMPLAINT_SHARE = 0.004
REDEEMING_SHARE = 0.25  # residents with enough points who spend some

DISTRICT_CATALOGUE = (
    ("定制限盐勺、控油壶套装", "厨房减盐控油小工具", 60, 2000),
    ("电子血压计", "上臂式，符合国家计量标准", 800, 200),
    ("免费口腔检查一次", "在社区卫生服务中心口腔科使用", 300, 500),
    ("中医养生讲座入场券", "每月一场，名额有限", 50, 1000),
)
CENTRE_CATALOGUE = (("健康小屋体脂检测", "在智慧健康驿站使用一次", 30, 300),)
SURVEY_QUESTIONS = (
    "家庭医生对您的病情了解程度",
    "就诊等候时间",
    "医务人员的服务态度",
    "签约服务内容的落实情况",
    "总体满意度",
)
COMPLAINT_SUBJECTS = (
    (Category.COMPLAINT, "配药等候时间太长", "上午配药排队将近一小时，希望增加窗口。"),
    (Category.COMPLAINT, "预约电话打不通", "连续几天打预约电话都是忙音。"),
    (Category.SUGGESTION, "希望增加周末门诊", "上班族平时没时间，希望周六上午也能看家庭医生。"),
    (Category.SUGGESTION, "健康讲座希望录像", "行动不便的老人去不了现场，希望能在手机上看。"),
    (Category.PRAISE, "感谢家庭医生上门随访", "王医生每月上门量血压，非常耐心。"),
)
_TOPIC_FOR_PREFIX = (
    ("I1", ("hypertension",)),
    ("E1", ("diabetes",)),
    ("F3", ("mental_health",)),
    ("F17", ("smoking",)),
    ("E66", ("diet",)),
)


def _moment(day: date, rng: np.random.Generator) -> datetime:
    return timezone.make_aware(
        datetime.combine(day, time(int(rng.integers(7, 22)), int(rng.integers(0, 60))))
    )


def _articles_by_topic() -> tuple[dict[str, list[Article]], list[Article]]:
    by_topic: dict[str, list[Article]] = defaultdict(list)
    for article in Article.objects.filter(active=True).order_by("id"):
        by_topic[article.topic].append(article)
    general = by_topic["diet"] + by_topic["exercise"]
    return by_topic, general


def _suits(article: Article, age: int, sex: str) -> bool:
    if article.min_age is not None and age < article.min_age:
        return False
    if article.max_age is not None and age > article.max_age:
        return False
    return not article.sex or article.sex == sex


def _catalogue(centres: list[Institution]) -> int:
    if CatalogueItem.objects.exists():
        return 0
    items = [CatalogueItem(name=n, description=d, cost=c, stock=s) for n, d, c, s in DISTRICT_CATALOGUE]
    items += [
        CatalogueItem(name=n, description=d, cost=c, stock=s, centre=centre)
        for centre in centres
        for n, d, c, s in CENTRE_CATALOGUE
    ]
    CatalogueItem.objects.bulk_create(items)
    return len(items)


def _education(
    residents: list[tuple[int, date, str]], as_of: date, rng: np.random.Generator
) -> tuple[int, int]:
    by_topic, general = _articles_by_topic()
    topics_of: dict[int, set[str]] = defaultdict(set)
    active = (ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE)
    for resident_id, code in (
        Condition.objects.filter(clinical_status__in=active)
        .values_list("resident_id", "code")
        .iterator(_BATCH)
    ):
        for prefix, prefix_topics in _TOPIC_FOR_PREFIX:
            if code.startswith(prefix):
                topics_of[resident_id].update(prefix_topics)
    reached = rng.random(len(residents)) < DELIVERY_SHARE
    already_read = set(Reading.objects.values_list("resident_id", "article_id"))
    deliveries: list[tuple[Any, ...]] = []
    readings: list[tuple[Any, ...]] = []
    ops = connection.ops
    channels = [Channel.APP, Channel.APP, Channel.APP, Channel.SMS, Channel.CLINIC]
    for (resident_id, birth_date, sex), chosen in zip(residents, reached, strict=True):
        if not chosen:
            continue
        age = as_of.year - birth_date.year - ((as_of.month, as_of.day) < (birth_date.month, birth_date.day))
        topics = set(topics_of.get(resident_id, ()))
        if age >= 65:
            topics.update({"elderly", "falls", "vaccination"})
        elif age <= 6:
            topics.update({"child_care", "vaccination"})
        pool = [a for t in sorted(topics) for a in by_topic.get(t, []) if _suits(a, age, sex)]
        pool += [a for a in general if _suits(a, age, sex)]
        if not pool:
            continue
        picks = rng.choice(len(pool), size=min(len(pool), int(rng.integers(1, 4))), replace=False)
        for index in sorted(int(i) for i in picks):
            article = pool[index]
            when = _moment(as_of - timedelta(days=int(rng.integers(1, 330))), rng)
            channel = channels[int(rng.integers(0, len(channels)))]
            deliveries.append(
                (resident_id, article.pk, channel, "按健康档案推荐", ops.adapt_datetimefield_value(when))
            )
            if rng.random() < READ_SHARE:
                read_at = when + timedelta(hours=int(rng.integers(1, 24 * 10)))
                if read_at.date() < as_of and (resident_id, article.pk) not in already_read:
                    readings.append((resident_id, article.pk, ops.adapt_datetimefield_value(read_at)))
    insert_rows(Delivery, ("resident_id", "article_id", "channel", "reason", "delivered_at"), deliveries)
    insert_rows(Reading, ("resident_id", "article_id", "read_at"), readings)
    return len(deliveries), len(readings)


def _redemptions(as_of: date, rng: np.random.Generator) -> int:
    """Some residents with enough points spend them. The same checks as `services.redeem`, applied in
    memory, then written in bulk: one by one it would take minutes at district scale."""
    items = list(CatalogueItem.objects.filter(centre__isnull=True, active=True).order_by("cost"))
    if not items:
        return 0
    stock = {item.pk: item.stock for item in items}
    holders = list(
        PointAccount.objects.filter(balance__gte=items[0].cost)
        .order_by("resident_id")
        .values_list("resident_id", "balance")
    )
    ops = connection.ops
    next_id = (Redemption.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    redemptions: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    spent: dict[int, int] = {}
    for resident_id, balance in holders:
        if rng.random() >= REDEEMING_SHARE:
            continue
        affordable = [i for i in items if i.cost <= balance and stock[i.pk] > 0]
        if not affordable:
            continue
        item = affordable[int(rng.integers(0, len(affordable)))]
        check_redemption(balance=balance, cost=item.cost, stock=stock[item.pk], active=item.active)
        stock[item.pk] -= 1
        when = _moment(as_of - timedelta(days=int(rng.integers(1, 60))), rng)
        at = ops.adapt_datetimefield_value(when)
        redemptions.append((next_id, resident_id, item.pk, item.cost, at))
        entries.append(
            (
                resident_id,
                EntryKind.REDEEM.value,
                f"redemption:{next_id}",
                -item.cost,
                0,
                ops.adapt_datefield_value(when.date()),
                at,
                next_id,
            )
        )
        spent[resident_id] = -item.cost
        next_id += 1
    insert_rows(Redemption, ("id", "resident_id", "item_id", "cost", "redeemed_at"), redemptions)
    reset_sequence(Redemption)
    insert_rows(
        PointEntry,
        (
            "resident_id",
            "kind",
            "event_key",
            "points",
            "requested",
            "occurred_on",
            "recorded_at",
            "redemption_id",
        ),
        entries,
    )
    for pk, left in stock.items():
        CatalogueItem.objects.filter(pk=pk).update(stock=left)
    services.add_to_balances(spent)
    return len(redemptions)


def _survey(
    residents: list[tuple[int, date, str]], centre_of: dict[int, int], as_of: date, rng: np.random.Generator
) -> tuple[int, int]:
    year = as_of.year - 1 if as_of.month < 10 else as_of.year
    survey, _ = Survey.objects.get_or_create(
        title=f"{year}年度家庭医生签约服务满意度调查",
        year=year,
        defaults={"opens_on": date(year, 10, 1), "closes_on": date(year + 1, 3, 31)},
    )
    if not survey.questions.exists():
        Question.objects.bulk_create(
            [Question(survey=survey, order=i + 1, text=text) for i, text in enumerate(SURVEY_QUESTIONS)]
        )
    questions = list(survey.questions.order_by("order").values_list("pk", flat=True))
    answered = set(survey.responses.values_list("resident_id", flat=True))
    # Each centre has its own level of satisfaction, so the ranking has something to show.
    centre_mood = {c: float(rng.normal(4.1, 0.25)) for c in sorted(set(centre_of.values()))}
    chosen = [r for r, pick in zip(residents, rng.random(len(residents)) < SURVEY_SHARE, strict=True) if pick]
    responses = [
        SurveyResponse(
            survey=survey,
            resident_id=resident_id,
            centre_id=centre_of[resident_id],
            submitted_at=_moment(survey.opens_on + timedelta(days=int(rng.integers(0, 60))), rng),
        )
        for resident_id, _birth, _sex in chosen
        if resident_id in centre_of and resident_id not in answered
    ]
    SurveyResponse.objects.bulk_create(responses, batch_size=_BATCH)
    saved = SurveyResponse.objects.filter(survey=survey, resident_id__in=[r.resident_id for r in responses])
    answers = []
    for response_id, centre_id in saved.order_by("pk").values_list("pk", "centre_id"):
        mood = centre_mood.get(centre_id, 4.0)
        for question_id in questions:
            score = int(np.clip(round(rng.normal(mood, 0.8)), 1, 5))
            answers.append((response_id, question_id, score))
    insert_rows(Answer, ("response_id", "question_id", "score"), answers)
    return len(responses), len(answers)


def _complaints(
    residents: list[tuple[int, date, str]], centre_of: dict[int, int], as_of: date, rng: np.random.Generator
) -> int:
    staff_by_centre: dict[int, list[int]] = defaultdict(list)
    for staff_id, institution_id, parent_id in Staff.objects.filter(active=True).values_list(
        "pk", "institution_id", "institution__parent_id"
    ):
        staff_by_centre[parent_id or institution_id].append(staff_id)
    picked = [
        r for r, pick in zip(residents, rng.random(len(residents)) < COMPLAINT_SHARE, strict=True) if pick
    ]
    made = 0
    for resident_id, _birth, _sex in picked:
        centre_id = centre_of.get(resident_id)
        if centre_id is None:
            continue
        category, subject, text = COMPLAINT_SUBJECTS[int(rng.integers(0, len(COMPLAINT_SUBJECTS)))]
        received = _moment(as_of - timedelta(days=int(rng.integers(1, 200))), rng)
        steps = int(rng.integers(0, 4))  # how far its handling got
        status = [Status.RECEIVED, Status.ASSIGNED, Status.RESOLVED, Status.CLOSED][steps]
        handlers = staff_by_centre.get(centre_id, [])
        complaint = Complaint.objects.create(
            resident_id=resident_id,
            centre_id=centre_id,
            category=category,
            subject=subject,
            text=text,
            status=status,
            received_at=received,
            updated_at=received + timedelta(days=steps * 2),
            assigned_to_id=handlers[int(rng.integers(0, len(handlers)))] if handlers and steps else None,
            resolution="已电话回复居民并改进。" if steps >= 2 else "",
        )
        ComplaintEvent.objects.bulk_create(
            [
                ComplaintEvent(complaint=complaint, status=s, at=received + timedelta(days=i * 2))
                for i, s in enumerate(
                    [Status.RECEIVED, Status.ASSIGNED, Status.RESOLVED, Status.CLOSED][: steps + 1]
                )
            ]
        )
        made += 1
    return made


def generate_points_and_education(config: SynthConfig, *, as_of: date, seed: int) -> dict[str, Any]:
    """Fill points, education and feedback for the district in the database; returns what was made."""
    rng = np.random.default_rng(seed)
    with transaction.atomic():
        rules_made = services.ensure_default_rules()
        articles = ensure_library()
        centres = list(
            Institution.objects.filter(parent__isnull=True, served_committees__isnull=False)
            .distinct()
            .order_by("pk")
        )
        items = _catalogue(centres)
        rows = list(
            Resident.objects.filter(date_of_death__isnull=True)
            .order_by("pk")
            .values_list("pk", "birth_date", "sex", "committee__responsible_centre_id")
        )
        residents = [(pk, birth, sex) for pk, birth, sex, _centre in rows]
        centre_of = {pk: centre for pk, _b, _s, centre in rows if centre is not None}
        deliveries, readings = _education(residents, as_of, rng)
        paid = services.award_pending()
        redemptions = _redemptions(as_of, rng)
        responses, answers = _survey(residents, centre_of, as_of, rng)
        complaints = _complaints(residents, centre_of, as_of, rng)
    return {
        "point_rules": rules_made,
        "articles": articles,
        "catalogue_items": items,
        "deliveries": deliveries,
        "readings": readings,
        "ledger_entries": sum(r.entries for r in paid.values()),
        "points_awarded": sum(r.points for r in paid.values()),
        "redemptions": redemptions,
        "survey_responses": responses,
        "survey_answers": answers,
        "complaints": complaints,
    }
