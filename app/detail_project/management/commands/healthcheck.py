"""``manage.py healthcheck``: the /health/ checks for playbooks, gated on the exit code."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from ...health import run_checks


class Command(BaseCommand):
    help = "Check database, cache and Redis; print JSON; exit 0 if healthy, 1 otherwise."

    def handle(self, *args: Any, **options: Any) -> None:
        report = run_checks()
        self.stdout.write(json.dumps(report.as_dict()))
        if not report.healthy:
            sys.exit(1)
