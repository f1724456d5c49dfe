"""`jiayi records duplicates|merge|unmerge`: identity housekeeping of the health accounts.

`duplicates` lists pairs of residents that look like the same person (scores from records.matching,
names and IDs masked), best first, as a table or `--csv`. `merge SURVIVOR DUPLICATE` moves the
duplicate's records to the survivor; `unmerge MERGE_ID` moves them back. Every run is audited.
"""

from __future__ import annotations

import csv
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.records import linkage, matching
from jiayi.records.models import ResidentMerge
from jiayi.registry import identity
from jiayi.registry.models import Resident


class Command(BaseCommand):
    help = "Identity housekeeping: list likely duplicate residents, merge two residents, undo a merge."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        duplicates = sub.add_parser("duplicates", help="list pairs of residents that look alike")
        duplicates.add_argument(
            "--min-score",
            type=float,
            default=matching.REVIEW,
            help=f"lowest score listed (default {matching.REVIEW}, the review threshold)",
        )
        duplicates.add_argument("--csv", action="store_true", help="CSV instead of a table")
        merge = sub.add_parser("merge", help="merge DUPLICATE into SURVIVOR (resident ids)")
        merge.add_argument("survivor", type=int)
        merge.add_argument("duplicate", type=int)
        unmerge = sub.add_parser("unmerge", help="undo a merge (its id, printed by merge)")
        unmerge.add_argument("merge_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "duplicates":
            self._duplicates(options["min_score"], as_csv=options["csv"])
        elif action == "merge":
            self._merge(options["survivor"], options["duplicate"])
        else:
            self._unmerge(options["merge_id"])

    def _duplicates(self, minimum: float, *, as_csv: bool) -> None:
        if not 0 < minimum <= 1:
            raise CommandError("--min-score must be in (0, 1]")
        pairs = linkage.find_duplicates(Resident.objects.all(), minimum=minimum)
        ids = {pk for pair in pairs for pk in (pair.first, pair.second)}
        people = {r.pk: r for r in Resident.objects.filter(pk__in=ids)}
        header = ["score", "resident", "name", "birth_date", "resident_2", "name_2", "birth_date_2", "parts"]
        rows = [
            [
                f"{pair.score.total:.2f}",
                pair.first,
                identity.mask_name(people[pair.first].name),
                people[pair.first].birth_date.isoformat(),
                pair.second,
                identity.mask_name(people[pair.second].name),
                people[pair.second].birth_date.isoformat(),
                " ".join(f"{k}={v:g}" for k, v in pair.score.parts.items() if v),
            ]
            for pair in pairs
        ]
        record(
            action=Action.SEARCH,
            resource_type="resident_duplicates",
            detail={"min_score": minimum, "pairs": len(pairs)},
        )
        if as_csv:
            writer = csv.writer(self.stdout)
            writer.writerow(header)
            writer.writerows(rows)
            return
        self.stdout.write(f"{len(pairs)} likely duplicate pair(s) scoring at least {minimum:.2f}")
        for row in rows:
            self.stdout.write(
                f"{row[0]}  #{row[1]} {row[2]} {row[3]}  ~  #{row[4]} {row[5]} {row[6]}  ({row[7]})"
            )

    def _merge(self, survivor_id: int, duplicate_id: int) -> None:
        survivor = Resident.objects.filter(pk=survivor_id).first()
        duplicate = Resident.objects.filter(pk=duplicate_id).first()
        if survivor is None or duplicate is None:
            raise CommandError(f"no resident #{survivor_id if survivor is None else duplicate_id}")
        try:
            merge = linkage.merge_residents(None, survivor, duplicate)
        except linkage.MergeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"merge #{merge.pk}: moved {len(merge.moved)} record(s) to resident #{survivor_id}")

    def _unmerge(self, merge_id: int) -> None:
        merge = ResidentMerge.objects.filter(pk=merge_id).first()
        if merge is None:
            raise CommandError(f"no merge #{merge_id}")
        try:
            linkage.unmerge(None, merge)
        except linkage.MergeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"merge #{merge_id} undone: {len(merge.moved)} record(s) moved back")
