"""15-minute access for the test district on its synthetic street grid."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Q

from jiayi.planning import access_services
from jiayi.planning import network as nw
from jiayi.registry.choices import InstitutionKind
from jiayi.registry.models import Institution, Place, ResidentialPoint


def test_coverage_sums_the_districts_residents_per_sub_district(db: None) -> None:
    result = access_services.district_access()
    living = Q(residents__date_of_death__isnull=True, residents__is_resident=True)
    counts = ResidentialPoint.objects.annotate(n=Count("residents", filter=living)).filter(n__gt=0)
    assert result.points == counts.count()
    assert result.residents == sum(counts.values_list("n", flat=True))
    assert sum(s.residents for s in result.sub_districts) == result.residents
    assert sum(s.covered for s in result.sub_districts) == result.covered
    assert 0 < result.covered < result.residents
    assert result.facilities == Institution.objects.filter(kind__in=access_services.FACILITY_KINDS).count()
    assert result.reach_m == pytest.approx(1125.0)
    assert result.source == "grid"
    assert result.meets_target == (result.share >= 0.9)


def test_a_faster_walk_or_a_longer_time_never_covers_fewer(db: None) -> None:
    shares = [
        access_services.district_access(speed_kmh=speed, minutes=minutes).share
        for speed, minutes in ((3.0, 10), (4.5, 15), (5.0, 15), (5.0, 30))
    ]
    assert shares == sorted(shares)


def test_the_walking_speed_is_a_setting(db: None, settings: object) -> None:
    settings.PLANNING_WALKING_SPEED_KMH = 6.0  # type: ignore[attr-defined]
    assert access_services.district_access().reach_m == pytest.approx(1500.0)


def test_opening_the_proposed_stations_gives_the_promised_coverage(db: None) -> None:
    before, proposals = access_services.propose_stations(2)
    assert len(proposals) == 2
    assert before.share < proposals[0].coverage_after < proposals[1].coverage_after
    committee = Place.objects.filter(level="committee").first()
    centre = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).first()
    for i, p in enumerate(proposals):
        Institution.objects.create(
            code=f"NEW{i}",
            name=f"新站{i}",
            kind=InstitutionKind.STATION,
            place=committee,
            parent=centre,
            lat=p.lat,
            lon=p.lon,
        )
    after = access_services.district_access()
    assert after.share == pytest.approx(proposals[-1].coverage_after)
    assert after.covered - before.covered == int(sum(p.added_weight for p in proposals))


def test_closed_institutions_and_hospitals_do_not_count(db: None) -> None:
    before = access_services.district_access()
    Institution.objects.filter(kind=InstitutionKind.STATION).update(closed_on="2025-12-31")
    after = access_services.district_access()
    assert after.facilities < before.facilities
    assert after.covered <= before.covered


def test_the_grid_spans_the_districts_boundary(db: None) -> None:
    grid = access_services.district_grid()
    district = Place.objects.get(level="district")
    ring = np.asarray(district.boundary["coordinates"][0])
    assert grid.lon.min() == pytest.approx(ring[:, 0].min(), abs=0.003)
    assert grid.lat.max() == pytest.approx(ring[:, 1].max(), abs=0.003)
    assert grid.node_count > 100


def test_the_command_prints_coverage_and_proposals(db: None) -> None:
    out = StringIO()
    call_command("planning", "propose", "--k", "2", "--minutes", "15", stdout=out)
    text = out.getvalue()
    assert "Network grid" in text
    assert "District:" in text
    assert "target" in text
    assert text.count("  site ") == 2
    out = StringIO()
    call_command("planning", "access", "--speed", "5", stdout=out)
    assert "at 5 km/h = 1250 m" in out.getvalue()


def test_the_command_names_bad_input(db: None) -> None:
    with pytest.raises(CommandError, match="walking speed"):
        call_command("planning", "access", "--speed", "40", stdout=StringIO())
    with pytest.raises(CommandError, match="--places osm needs --osm"):
        call_command("planning", "access", "--places", "osm", stdout=StringIO())
    with pytest.raises(CommandError, match="k: 0 is outside"):
        call_command("planning", "propose", "--k", "0", stdout=StringIO())
    assert nw.COVERAGE_TARGET == 0.9
