"""The health-education API: the library, a resident's recommendations, deliveries and reads."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.education import services
from jiayi.education.models import Article, Channel
from jiayi.registry import tokens
from jiayi.registry.schemas import FieldErrors, Message

EDUCATION = "health education"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": EDUCATION,
        "description": "Health education (健康教育) under /api/education/: the article library, "
        "recommendations from a resident's record and care plan, deliveries by the care team, and reads "
        "(a first read earns health points).",
    }
]
router = Router(auth=tokens.api_auth())
NOT_FOUND = {"detail": "Not Found"}
COMMON = {401: Message, 403: Message, 422: FieldErrors}


class ArticleOut(Schema):
    id: int
    slug: str
    title: str
    summary: str
    topic: str
    icd10_prefixes: list[str]
    risk_tags: list[str]
    min_age: int | None
    max_age: int | None
    sex: str


class RecommendationOut(Schema):
    article: ArticleOut
    score: int
    reasons: list[str]
    read: bool


class ArticleRef(Schema):
    article_id: int


class DeliveryIn(Schema):
    article_id: int
    channel: str = Channel.APP
    reason: str = ""


class ReadOut(Schema):
    article_id: int
    points_earned: int


class DeliveryOut(Schema):
    id: int
    article_id: int
    channel: str


def _denied(request: HttpRequest, action: Action, resident_id: int) -> Status[Any]:
    record(
        request=request,
        action=action,
        resource_type="education",
        detail={"resident": resident_id},
        outcome=Outcome.DENIED,
    )
    return Status(404, NOT_FOUND)


def _article(article_id: int) -> Article | None:
    return Article.objects.filter(pk=article_id, active=True).first()


def _no_article(article_id: int) -> Status[Any]:
    return Status(422, {"detail": [{"field": "article_id", "message": f"no active article {article_id}"}]})


@router.get("/articles", response={200: list[ArticleOut], **COMMON}, tags=[EDUCATION])
def list_articles(request: HttpRequest) -> Any:
    """The active articles of the library (public content: no audit entry)."""
    if access.account_of(request.user) is None:
        return Status(403, {"detail": "no jiayi account"})
    return list(Article.objects.filter(active=True).order_by("topic", "title"))


@router.get(
    "/residents/{resident_id}/recommendations",
    response={200: list[RecommendationOut], 404: Message, **COMMON},
    tags=[EDUCATION],
)
def recommendations(request: HttpRequest, resident_id: int) -> Any:
    """The articles that suit the resident best, unread first, with why."""
    resident = access.education_visible_to(request.user).filter(pk=resident_id).first()
    if resident is None:
        return _denied(request, Action.READ, resident_id)
    record(request=request, action=Action.READ, resource_type="education", resident_id=resident.pk)
    return [
        {"article": s.article, "score": s.score, "reasons": list(s.reasons), "read": s.read}
        for s in services.recommendations(resident, today=timezone.localdate())
    ]


@router.post(
    "/residents/{resident_id}/readings", response={200: ReadOut, 404: Message, **COMMON}, tags=[EDUCATION]
)
def read(request: HttpRequest, resident_id: int, payload: ArticleRef) -> Any:
    """Record that the resident read an article (by the resident or their household head)."""
    resident = access.residents_acting_for(request.user).filter(pk=resident_id).first()
    if resident is None:
        return _denied(request, Action.CREATE, resident_id)
    article = _article(payload.article_id)
    if article is None:
        return _no_article(payload.article_id)
    _reading, earned = services.mark_read(resident, article)
    record(request=request, action=Action.CREATE, resource_type="education_reading", resident_id=resident.pk)
    return {"article_id": article.pk, "points_earned": earned}


@router.post(
    "/residents/{resident_id}/deliveries",
    response={201: DeliveryOut, 404: Message, **COMMON},
    tags=[EDUCATION],
)
def deliver(request: HttpRequest, resident_id: int, payload: DeliveryIn) -> Any:
    """The care team sends or hands an article to a resident they serve."""
    if access.role_of(request.user) not in access.CLINICAL_ROLES:
        return _denied(request, Action.CREATE, resident_id)
    resident = access.residents_visible_to(request.user).filter(pk=resident_id).first()
    if resident is None:
        return _denied(request, Action.CREATE, resident_id)
    article = _article(payload.article_id)
    if article is None:
        return _no_article(payload.article_id)
    if payload.channel not in Channel.values:
        return Status(
            422, {"detail": [{"field": "channel", "message": f"one of {', '.join(Channel.values)}"}]}
        )
    delivery = services.deliver(
        resident, article, channel=payload.channel, reason=payload.reason, by=request.user
    )
    record(
        request=request,
        action=Action.CREATE,
        resource_type="education_delivery",
        resource_id=delivery.pk,
        resident_id=resident.pk,
    )
    return Status(201, {"id": delivery.pk, "article_id": article.pk, "channel": delivery.channel})
