"""Health-education pages: the resident's recommended reading at /me/education/ (mobile first), an article
page that records the read and pays its points, and the content library for centre managers."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.education import services
from jiayi.education.models import Article, Channel
from jiayi.registry.models import Resident


def _acting_for(request: HttpRequest) -> tuple[Resident, list[Resident]]:
    family = list(access.residents_acting_for(request.user).order_by("id"))
    if not family:
        raise Http404
    raw = request.GET.get("for") or request.POST.get("for")
    me = access.own_health_account(request.user)
    chosen = next((r for r in family if raw and str(r.pk) == raw), None)
    if raw and chosen is None:
        record(request=request, action=Action.READ, resource_type="education", outcome=Outcome.DENIED)
        raise Http404
    return chosen or next((r for r in family if me and r.pk == me.pk), family[0]), family


@login_required
def me(request: HttpRequest) -> HttpResponse:
    resident, family = _acting_for(request)
    suggestions = services.recommendations(resident, today=timezone.localdate(), limit=10)
    record(request=request, action=Action.READ, resource_type="education", resident_id=resident.pk)
    response = render(
        request,
        "education/me.html",
        {"resident": resident, "family": family if len(family) > 1 else [], "suggestions": suggestions},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def article(request: HttpRequest, pk: int) -> HttpResponse:
    """Opening an article is reading it: the first read is recorded and earns points."""
    resident, _family = _acting_for(request)
    item = Article.objects.filter(pk=pk, active=True).first()
    if item is None:
        raise Http404
    _reading, earned = services.mark_read(resident, item)
    record(
        request=request,
        action=Action.READ,
        resource_type="education_article",
        resource_id=item.pk,
        resident_id=resident.pk,
    )
    return render(
        request, "education/article.html", {"article": item, "earned": earned, "resident": resident}
    )


class ArticleForm(forms.ModelForm):  # type: ignore[type-arg]
    icd10 = forms.CharField(
        required=False,
        label=gettext_lazy("ICD-10 prefixes"),
        help_text=gettext_lazy("Comma-separated, e.g. I10, I11"),
    )
    risks = forms.CharField(
        required=False,
        label=gettext_lazy("Risk tags"),
        help_text=gettext_lazy(
            "Comma-separated: high_bp, high_glucose, overweight, smoker, inactive, fall_risk"
        ),
    )

    class Meta:
        model = Article
        fields = [
            "slug",
            "title",
            "summary",
            "body",
            "topic",
            "min_age",
            "max_age",
            "sex",
            "source",
            "active",
        ]
        labels = {
            "slug": gettext_lazy("Short name (letters, digits, hyphens)"),
            "title": gettext_lazy("Title"),
            "summary": gettext_lazy("Summary"),
            "body": gettext_lazy("Text"),
            "topic": gettext_lazy("Topic"),
            "min_age": gettext_lazy("From age"),
            "max_age": gettext_lazy("Up to age"),
            "sex": gettext_lazy("Sex"),
            "source": gettext_lazy("Guideline followed"),
            "active": gettext_lazy("Published"),
        }
        help_texts = {"body": gettext_lazy("Paragraphs separated by a blank line."), "source": ""}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.instance.pk:
            self.fields["icd10"].initial = ", ".join(self.instance.icd10_prefixes)
            self.fields["risks"].initial = ", ".join(self.instance.risk_tags)

    @staticmethod
    def _split(raw: str) -> list[str]:
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]

    def clean_icd10(self) -> list[str]:
        prefixes = [p.upper() for p in self._split(self.cleaned_data.get("icd10", ""))]
        bad = [p for p in prefixes if not p[:1].isalpha() or not p[1:].replace(".", "").isalnum()]
        if bad:
            raise forms.ValidationError(_("Not an ICD-10 prefix: %(codes)s") % {"codes": ", ".join(bad)})
        return prefixes

    def clean_risks(self) -> list[str]:
        return self._split(self.cleaned_data.get("risks", ""))

    def save(self, commit: bool = True) -> Article:
        self.instance.icd10_prefixes = self.cleaned_data["icd10"]
        self.instance.risk_tags = self.cleaned_data["risks"]
        return super().save(commit)  # type: ignore[no-any-return]


@login_required
@require_http_methods(["GET", "POST"])
def library(request: HttpRequest) -> HttpResponse:
    if not access.can_manage_education(request.user):
        raise Http404
    form = ArticleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, _("Added %(title)s.") % {"title": saved.title})
        return redirect("education:library")
    articles = Article.objects.annotate(
        delivered=Count("deliveries", distinct=True), read=Count("readings", distinct=True)
    ).order_by("topic", "title")
    return render(
        request, "education/library.html", {"articles": articles, "form": form, "channels": Channel}
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit_article(request: HttpRequest, pk: int) -> HttpResponse:
    if not access.can_manage_education(request.user):
        raise Http404
    item = Article.objects.filter(pk=pk).first()
    if item is None:
        raise Http404
    form = ArticleForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved %(title)s.") % {"title": item.title})
        return redirect("education:library")
    return render(request, "education/edit.html", {"form": form, "article": item})
