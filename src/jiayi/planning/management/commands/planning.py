"""`jiayi planning access|propose`: 15-minute walking access to primary care and new station sites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.planning import access_services, network


class Command(BaseCommand):
    help = "15-minute access: coverage per sub-district, and k proposed new station sites."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("access", "coverage of residents within a walk of a centre or station"),
            ("propose", "coverage, then k new station sites adding the most residents within reach"),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("--osm", type=Path, help="street network from this OSM PBF file (default: grid)")
            p.add_argument(
                "--places",
                choices=("district", "osm"),
                default="district",
                help="whose homes and facilities: the district's (default) or the OSM file's own "
                "residential buildings and clinics (needs --osm)",
            )
            p.add_argument("--speed", type=float, help="walking speed in km/h (default: setting, 4.5)")
            p.add_argument("--minutes", type=float, default=network.DEFAULT_MINUTES)
            if name == "propose":
                p.add_argument("--k", type=int, default=3, help="number of new sites (1-50)")

    def handle(self, *args: Any, **options: Any) -> None:
        proposing = options["action"] == "propose"
        k = int(options["k"]) if proposing else 0
        if proposing and not 1 <= k <= 50:
            raise CommandError(f"k: {k} is outside 1-50")
        osm: Path | None = options["osm"]
        try:
            if options["places"] == "osm":
                if osm is None:
                    raise CommandError("--places osm needs --osm FILE")
                self._file(
                    access_services.osm_file_access(
                        osm, speed_kmh=options["speed"], minutes=options["minutes"], k=k
                    )
                )
                return
            if proposing:
                result, proposals = access_services.propose_stations(
                    k, osm=osm, speed_kmh=options["speed"], minutes=options["minutes"]
                )
            else:
                result, proposals = (
                    access_services.district_access(
                        osm=osm, speed_kmh=options["speed"], minutes=options["minutes"]
                    ),
                    [],
                )
        except network.NetworkError as exc:
            raise CommandError(str(exc)) from exc
        w = self.stdout.write
        w(
            f"Network {result.source}: {result.nodes} nodes, {result.edges} edges; "
            f"{result.points} residential points, {result.facilities} centres and stations; "
            f"{result.minutes:g} min at {result.speed_kmh:g} km/h = {result.reach_m:.0f} m."
        )
        for s in result.sub_districts:
            w(f"  {s.code} {s.name}: {s.covered}/{s.residents} = {100 * s.share:.1f}%")
        target = "meets" if result.meets_target else "below"
        w(
            f"District: {result.covered}/{result.residents} = {100 * result.share:.1f}% "
            f"({target} the {100 * network.COVERAGE_TARGET:.0f}% target)"
        )
        self._proposals(proposals)

    def _file(self, result: access_services.FileAccess) -> None:
        w = self.stdout.write
        w(
            f"Network {result.source}: {result.nodes} nodes, {result.edges} edges; "
            f"{result.buildings} residential buildings, {result.facilities} clinics, doctors and hospitals; "
            f"{result.minutes:g} min at {result.speed_kmh:g} km/h = {result.reach_m:.0f} m."
        )
        w(f"Buildings within reach: {result.covered}/{result.buildings} = {100 * result.share:.1f}%")
        self._proposals(result.proposals)

    def _proposals(self, proposals: list[network.Proposal]) -> None:
        for i, p in enumerate(proposals, start=1):
            self.stdout.write(
                f"  site {i}: lon {p.lon:.6f}, lat {p.lat:.6f} adds {p.added_weight:.0f}, "
                f"coverage then {100 * p.coverage_after:.1f}%"
            )
