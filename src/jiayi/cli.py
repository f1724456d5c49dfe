"""The `jiayi` console command: Django's management commands under one name.

`jiayi demo`, `jiayi synth`, `jiayi migrate`... all go through Django's command dispatcher, so every
command is also available as `python -m django <command>` with DJANGO_SETTINGS_MODULE=jiayi.settings.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["jiayi", *args])


if __name__ == "__main__":
    main()
