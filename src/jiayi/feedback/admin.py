"""Administrators set up satisfaction surveys and their questions here."""

from __future__ import annotations

from django.contrib import admin

from jiayi.feedback.models import Question, Survey


class QuestionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Question
    extra = 0


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "year", "opens_on", "closes_on", "active")
    inlines = [QuestionInline]
