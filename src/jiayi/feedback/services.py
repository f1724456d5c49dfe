"""Satisfaction surveys and complaints: the handling workflow and the centres' scores.

A complaint moves received → assigned → resolved → closed (a resolved one may be reopened to assigned if
the resident is not satisfied); each step records who and when. Scores are 0–100: the mean answer of
1–5 mapped linearly, so 5 everywhere is 100 and 1 everywhere is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

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
from jiayi.registry.models import Institution, Resident, Staff

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED: frozenset({Status.ASSIGNED, Status.CLOSED}),
    Status.ASSIGNED: frozenset({Status.ASSIGNED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.ASSIGNED}),
    Status.CLOSED: frozenset(),
}
SUBJECT_MAX = 100
TEXT_MAX = 2000


class FeedbackError(Exception):
    """Bad input, naming the field; nothing was written."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = list(errors)


def check_transition(
    current: str, to: str, *, assignee: Staff | None, resolution: str
) -> list[tuple[str, str]]:
    """What stops a complaint moving from `current` to `to` (empty when it may)."""
    if to not in Status.values:
        return [("to", f"unknown status {to!r}")]
    if to not in TRANSITIONS[current]:
        return [("to", f"a {current} complaint cannot become {to}")]
    if to == Status.ASSIGNED and assignee is None:
        return [("assigned_to_id", "name the staff member who handles it")]
    if to == Status.RESOLVED and not resolution.strip():
        return [("resolution", "say how it was resolved")]
    return []


def centre_of_resident(resident: Resident) -> Institution | None:
    if resident.committee_id is None or resident.committee is None:
        return None
    return resident.committee.responsible_centre


def submit_complaint(resident: Resident, *, category: str, subject: str, text: str, by: Any) -> Complaint:
    errors: list[tuple[str, str]] = []
    if category not in Category.values:
        errors.append(("category", f"one of {', '.join(Category.values)}"))
    if not subject.strip():
        errors.append(("subject", "required"))
    elif len(subject) > SUBJECT_MAX:
        errors.append(("subject", f"at most {SUBJECT_MAX} characters"))
    if not text.strip():
        errors.append(("text", "required"))
    elif len(text) > TEXT_MAX:
        errors.append(("text", f"at most {TEXT_MAX} characters"))
    centre = centre_of_resident(resident)
    if centre is None:
        errors.append(("resident_id", "no centre serves this resident's committee"))
    if errors:
        raise FeedbackError(errors)
    assert centre is not None
    now = timezone.now()
    with transaction.atomic():
        complaint = Complaint.objects.create(
            resident=resident,
            centre=centre,
            category=category,
            subject=subject.strip(),
            text=text.strip(),
            received_at=now,
            updated_at=now,
        )
        ComplaintEvent.objects.create(complaint=complaint, status=Status.RECEIVED, at=now, by=by)
    return complaint


def transition(
    complaint: Complaint,
    to: str,
    *,
    by: Any,
    assignee: Staff | None = None,
    resolution: str = "",
    note: str = "",
) -> Complaint:
    with transaction.atomic():
        locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
        errors = check_transition(locked.status, to, assignee=assignee, resolution=resolution)
        if errors:
            raise FeedbackError(errors)
        now = timezone.now()
        locked.status = to
        locked.updated_at = now
        if assignee is not None:
            locked.assigned_to = assignee
        if resolution.strip():
            locked.resolution = resolution.strip()[:TEXT_MAX]
        locked.save()
        ComplaintEvent.objects.create(complaint=locked, status=to, at=now, by=by, note=note[:500])
    return locked


def submit_response(
    survey: Survey, resident: Resident, scores: Mapping[int, int], *, comment: str = ""
) -> SurveyResponse:
    """Store a resident's answers: every question of the survey, each scored 1–5, once per survey."""
    questions = list(survey.questions.values_list("pk", flat=True))
    errors = [(f"q{q}", "score 1 to 5") for q in questions if scores.get(q) not in (1, 2, 3, 4, 5)]
    errors += [(f"q{q}", "not a question of this survey") for q in scores if q not in questions]
    centre = centre_of_resident(resident)
    if centre is None:
        errors.append(("resident_id", "no centre serves this resident's committee"))
    if SurveyResponse.objects.filter(survey=survey, resident=resident).exists():
        errors.append(("survey_id", "already answered"))
    if errors:
        raise FeedbackError(errors)
    assert centre is not None
    with transaction.atomic():
        response = SurveyResponse.objects.create(
            survey=survey,
            resident=resident,
            centre=centre,
            submitted_at=timezone.now(),
            comment=comment[:500],
        )
        Answer.objects.bulk_create(
            [Answer(response=response, question_id=q, score=scores[q]) for q in questions]
        )
    return response


def to_percent(mean_score: float) -> float:
    """A mean answer on the 1–5 scale as 0–100."""
    if not 1 <= mean_score <= 5:
        raise ValueError(f"a mean of 1–5 answers lies in 1..5, not {mean_score}")
    return round((mean_score - 1) / 4 * 100, 1)


@dataclass(frozen=True, slots=True)
class CentreScore:
    centre_id: int
    centre_name: str
    responses: int
    score: float
    by_question: dict[int, float]


def centre_scores(survey: Survey, centres: Iterable[Institution]) -> list[CentreScore]:
    """Each centre's satisfaction score for the survey, best first; centres without answers left out."""
    ids = {c.pk: c.name for c in centres}
    answers = Answer.objects.filter(response__survey=survey, response__centre_id__in=list(ids))
    per_question: dict[int, dict[int, float]] = {}
    for row in answers.values("response__centre_id", "question_id").annotate(mean=Avg("score")):
        per_question.setdefault(row["response__centre_id"], {})[row["question_id"]] = to_percent(row["mean"])
    overall = {
        row["response__centre_id"]: row["mean"]
        for row in answers.values("response__centre_id").annotate(mean=Avg("score"))
    }
    counts = dict(
        SurveyResponse.objects.filter(survey=survey, centre_id__in=list(ids))
        .values_list("centre_id")
        .annotate(n=Count("id"))
        .values_list("centre_id", "n")
    )
    scores = [
        CentreScore(cid, ids[cid], counts.get(cid, 0), to_percent(mean), per_question.get(cid, {}))
        for cid, mean in overall.items()
    ]
    return sorted(scores, key=lambda s: (-s.score, s.centre_name))


def questions_of(survey: Survey) -> list[Question]:
    return list(survey.questions.order_by("order"))
