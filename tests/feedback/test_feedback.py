"""Complaints and their handling, satisfaction surveys and centre scores, over services, API and pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jiayi import access
from jiayi.feedback import services
from jiayi.feedback.models import Complaint, ComplaintEvent, Question, Status, Survey, SurveyResponse
from jiayi.registry.models import Institution, Resident, Staff

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def _me(personas: Any) -> Resident:
    resident: Resident = personas.resident.account.resident
    return resident


def _survey() -> Survey:
    today = timezone.localdate()
    survey = Survey.objects.create(
        title="2025年度满意度调查",
        year=2025,
        opens_on=today - timedelta(days=5),
        closes_on=today + timedelta(days=30),
    )
    Question.objects.bulk_create([Question(survey=survey, order=i, text=f"问题{i}") for i in (1, 2, 3)])
    return survey


def test_the_workflow_allows_only_its_steps() -> None:
    staff = Staff(name="x")
    assert services.check_transition(Status.RECEIVED, Status.ASSIGNED, assignee=staff, resolution="") == []
    assert services.check_transition(Status.RECEIVED, Status.ASSIGNED, assignee=None, resolution="")[0][
        0
    ] == ("assigned_to_id")
    assert services.check_transition(Status.ASSIGNED, Status.RESOLVED, assignee=staff, resolution=" ")[0][
        0
    ] == ("resolution")
    assert (
        services.check_transition(Status.RECEIVED, Status.RESOLVED, assignee=staff, resolution="ok")[0][0]
        == "to"
    )
    assert (
        services.check_transition(Status.CLOSED, Status.ASSIGNED, assignee=staff, resolution="")[0][0] == "to"
    )
    assert services.check_transition(Status.RESOLVED, Status.ASSIGNED, assignee=staff, resolution="") == []
    assert services.check_transition(Status.RECEIVED, "lost", assignee=staff, resolution="")[0][0] == "to"


def test_scores_map_one_to_five_onto_zero_to_hundred() -> None:
    assert services.to_percent(5) == 100.0
    assert services.to_percent(1) == 0.0
    assert services.to_percent(4.2) == 80.0
    with pytest.raises(ValueError, match=r"1\.\.5"):
        services.to_percent(0.5)


def test_a_complaint_goes_from_received_to_closed_with_who_and_when(personas: Any) -> None:
    me = _me(personas)
    resident = _client(personas.resident)
    response = _post(
        resident,
        "/api/feedback/complaints",
        {"resident_id": me.pk, "category": "complaint", "subject": "配药排队太久", "text": "排了一个小时。"},
    )
    assert response.status_code == 201
    complaint = Complaint.objects.get(pk=response.json()["id"])
    assert complaint.centre == me.committee.responsible_centre
    assert complaint.status == Status.RECEIVED
    # The resident sees it, but cannot move it on.
    assert [c["id"] for c in resident.get("/api/feedback/complaints").json()] == [complaint.pk]
    url = f"/api/feedback/complaints/{complaint.pk}/transition"
    assert _post(resident, url, {"to": "closed"}).status_code == 404

    manager_user = next(
        u
        for u in (personas.manager, personas.other_doctor)
        if access.complaints_handled_by(u).filter(pk=complaint.pk)
    )
    manager = _client(manager_user)
    handler = access.family_doctors_assignable_by(manager_user).first()
    assert handler is not None
    assert _post(manager, url, {"to": "resolved", "resolution": "x"}).status_code == 422
    assert _post(manager, url, {"to": "assigned"}).json()["detail"][0]["field"] == "assigned_to_id"
    assert _post(manager, url, {"to": "assigned", "assigned_to_id": handler.pk}).status_code == 200
    assert _post(manager, url, {"to": "resolved", "resolution": "已增开窗口"}).status_code == 200
    assert _post(manager, url, {"to": "closed"}).status_code == 200
    complaint.refresh_from_db()
    assert complaint.status == Status.CLOSED
    assert complaint.assigned_to == handler
    events = list(ComplaintEvent.objects.filter(complaint=complaint).values_list("status", "by"))
    assert events == [
        (Status.RECEIVED, personas.resident.pk),
        (Status.ASSIGNED, manager_user.pk),
        (Status.RESOLVED, manager_user.pk),
        (Status.CLOSED, manager_user.pk),
    ]
    page = manager.get(f"/feedback/complaints/{complaint.pk}/")
    assert page.status_code == 200
    assert me.name not in page.content.decode()  # masked


def test_bad_complaints_name_the_field_and_store_nothing(personas: Any) -> None:
    me = _me(personas)
    response = _post(
        _client(personas.resident),
        "/api/feedback/complaints",
        {"resident_id": me.pk, "category": "rant", "subject": "", "text": "x" * 2001},
    )
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["detail"]} == {"category", "subject", "text"}
    assert not Complaint.objects.filter(resident=me).exists()


def test_a_manager_sees_only_their_centres_complaints(personas: Any, resident_out_of_scope: Resident) -> None:
    foreign = services.submit_complaint(
        resident_out_of_scope, category="suggestion", subject="周末门诊", text="希望周六开诊", by=None
    )
    assert not access.complaints_handled_by(personas.manager).filter(pk=foreign.pk).exists()
    manager = _client(personas.manager)
    assert manager.get(f"/feedback/complaints/{foreign.pk}/").status_code == 404
    assert (
        _post(manager, f"/api/feedback/complaints/{foreign.pk}/transition", {"to": "closed"}).status_code
        == 404
    )
    assert _client(personas.doctor).get("/feedback/").status_code == 404


def test_survey_answers_make_centre_scores(personas: Any) -> None:
    survey = _survey()
    me = _me(personas)
    questions = list(survey.questions.order_by("order"))
    client = _client(personas.resident)
    page = client.get("/me/feedback/")
    assert page.status_code == 200
    assert survey.title in page.content.decode()
    posted = client.post(
        "/me/feedback/",
        {"form": "survey", **{f"q{q.pk}": s for q, s in zip(questions, (5, 4, 3), strict=True)}},
    )
    assert posted.status_code == 302
    with pytest.raises(services.FeedbackError, match="already answered"):
        services.submit_response(survey, me, {q.pk: 5 for q in questions})
    other = (
        Resident.objects.filter(committee__responsible_centre=me.committee.responsible_centre)
        .exclude(pk=me.pk)
        .first()
    )
    assert other is not None
    services.submit_response(survey, other, {q.pk: 1 for q in questions})
    centre: Institution = me.committee.responsible_centre
    [score] = services.centre_scores(survey, [centre])
    assert score.responses == 2
    assert score.score == services.to_percent((5 + 4 + 3 + 1 + 1 + 1) / 6)
    assert score.by_question[questions[0].pk] == services.to_percent(3)
    with pytest.raises(services.FeedbackError) as bad:
        services.submit_response(survey, other, {questions[0].pk: 9})
    assert any(field == f"q{questions[0].pk}" for field, _ in bad.value.errors)
    assert SurveyResponse.objects.filter(survey=survey).count() == 2


def test_scores_api_is_scoped_to_the_managers_centre(personas: Any) -> None:
    survey = _survey()
    me = _me(personas)
    services.submit_response(survey, me, {q.pk: 4 for q in survey.questions.all()})
    analyst = _client(personas.analyst).get(f"/api/feedback/surveys/{survey.pk}/scores").json()
    assert [row["responses"] for row in analyst] == [1]
    doctor = _client(personas.doctor).get(f"/api/feedback/surveys/{survey.pk}/scores").json()
    assert doctor == []
