"""A resident authorises a household member to read their health account: grant, expiry, revocation,
audit, and what `access.health_accounts_visible_to` lets the member see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action, AuditEntry
from jiayi.records import authorisation
from jiayi.registry.choices import Role
from jiayi.registry.models import Account, Resident

pytestmark = pytest.mark.django_db


@pytest.fixture
def household_pair() -> tuple[Resident, User, Resident]:
    """A resident (who grants), a resident user in the same household (who is granted), and a resident
    of another household."""
    for resident in Resident.objects.filter(household__isnull=False, date_of_death__isnull=True).order_by(
        "id"
    ):
        member = (
            Resident.objects.filter(household_id=resident.household_id, date_of_death__isnull=True)
            .exclude(pk=resident.pk)
            .order_by("id")
            .first()
        )
        if member is not None:
            break
    else:
        raise AssertionError("no household with two living members")
    user = User.objects.create_user("member-login", password="x")
    Account.objects.create(user=user, role=Role.RESIDENT, resident=member)
    stranger = Resident.objects.exclude(household_id=resident.household_id).order_by("id").first()
    assert stranger is not None
    return resident, user, stranger


def test_a_granted_member_reads_the_account_until_it_is_revoked(household_pair):
    resident, user, _ = household_pair
    member = user.account.resident
    assert not access.health_accounts_visible_to(user).filter(pk=resident.pk).exists()

    granted = authorisation.grant(None, resident, member, timezone.localdate() + timedelta(days=30))

    assert access.health_accounts_visible_to(user).filter(pk=resident.pk).exists()
    assert access.health_accounts_visible_to(user).filter(pk=member.pk).exists()  # still their own
    audit = AuditEntry.objects.filter(resource_type="account_authorisation").latest("id")
    assert (audit.action, audit.resident_id, audit.detail["member"]) == (
        Action.CREATE,
        resident.pk,
        member.pk,
    )

    authorisation.revoke(None, granted)

    assert not access.health_accounts_visible_to(user).filter(pk=resident.pk).exists()
    assert AuditEntry.objects.filter(resource_type="account_authorisation", action=Action.DELETE).exists()
    with pytest.raises(authorisation.AuthorisationError, match="already revoked"):
        authorisation.revoke(None, granted)


def test_an_expired_grant_or_a_member_who_moved_out_sees_nothing(household_pair):
    resident, user, stranger = household_pair
    member = user.account.resident
    granted = authorisation.grant(None, resident, member, timezone.localdate() + timedelta(days=3))
    # Time passes: the grant's last day was yesterday.
    granted.expires_on = timezone.localdate() - timedelta(days=1)
    granted.save(update_fields=["expires_on"])
    assert not access.health_accounts_visible_to(user).filter(pk=resident.pk).exists()

    authorisation.grant(None, resident, member, timezone.localdate() + timedelta(days=10))
    assert access.health_accounts_visible_to(user).filter(pk=resident.pk).exists()
    Resident.objects.filter(pk=member.pk).update(household_id=stranger.household_id)
    assert not access.health_accounts_visible_to(user).filter(pk=resident.pk).exists()


def test_a_grant_is_refused_outside_the_household_or_beyond_a_year(household_pair):
    resident, user, stranger = household_pair
    member = user.account.resident
    today = timezone.localdate()
    with pytest.raises(authorisation.AuthorisationError, match="same household"):
        authorisation.grant(None, resident, stranger, today + timedelta(days=5))
    with pytest.raises(authorisation.AuthorisationError, match="themself"):
        authorisation.grant(None, resident, resident, today + timedelta(days=5))
    with pytest.raises(authorisation.AuthorisationError, match="in the past"):
        authorisation.grant(None, resident, member, today - timedelta(days=1))
    with pytest.raises(authorisation.AuthorisationError, match="at most 366 days"):
        authorisation.grant(None, resident, member, today + timedelta(days=400))


def test_granting_again_replaces_the_active_grant(household_pair):
    resident, user, _ = household_pair
    member = user.account.resident
    authorisation.grant(None, resident, member, timezone.localdate() + timedelta(days=5))
    authorisation.grant(None, resident, member, timezone.localdate() + timedelta(days=50))
    active = list(authorisation.active_grants(resident))
    assert [g.expires_on for g in active] == [timezone.localdate() + timedelta(days=50)]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_a_resident_authorises_a_member_on_the_page_and_the_member_opens_the_account(household_pair):
    resident, member_user, stranger = household_pair
    member = member_user.account.resident
    granter = User.objects.create_user("granter-login", password="x")
    Account.objects.create(user=granter, role=Role.RESIDENT, resident=resident)
    client = _client(granter)
    page = client.get("/me/health/authorisations/").content.decode()
    assert f'<option value="{member.pk}">' in page
    assert f'<option value="{stranger.pk}">' not in page
    assert member.name not in page  # masked
    assert _client(member_user).get(f"/records/{resident.pk}/").status_code == 404

    until = (timezone.localdate() + timedelta(days=7)).isoformat()
    client.post("/me/health/authorisations/", {"member": member.pk, "expires_on": until})

    assert _client(member_user).get(f"/records/{resident.pk}/").status_code == 200
    granted = authorisation.active_grants(resident).get()
    # A grant for someone outside the household is refused with the reason.
    refused = client.post(
        "/me/health/authorisations/", {"member": stranger.pk, "expires_on": until}, follow=True
    )
    assert "only a member of the same household" in refused.content.decode()
    client.post("/me/health/authorisations/", {"revoke": granted.pk})
    assert _client(member_user).get(f"/records/{resident.pk}/").status_code == 404
    # Another resident cannot withdraw it: the page only ever shows one's own grants.
    assert _client(member_user).get("/me/health/authorisations/").status_code == 200
