"""Write a synthetic timing history for the adaptive-timeout tests into the real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from concurrent_test_app.models import Case, CaseResult, Run
from mishaps.tests.test_adaptive import HISTORY_P95

# Each test gets RUNS results, the largest being its p95 (nearest rank over three values).
FRACTIONS = (0.5, 0.8, 1.0)


class Command(BaseCommand):
    help = "Record three past runs in which each test of test_adaptive took its HISTORY_P95."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for number, fraction in enumerate(FRACTIONS):
            started = now - timedelta(hours=len(FRACTIONS) - number)
            run = Run.objects.create(
                started_at=started,
                finished_at=started + timedelta(seconds=5),
                wall_seconds=5.0,
                workers=2,
                vendor="synthetic",
                outcome=Run.Outcome.PASSED,
                tests_run=len(HISTORY_P95),
                passed=len(HISTORY_P95),
            )
            for test_id, p95 in HISTORY_P95.items():
                case, _ = Case.objects.get_or_create(
                    test_id=test_id, defaults={"class_name": test_id.rpartition(".")[0]}
                )
                CaseResult.objects.create(
                    run=run, case=case, duration=p95 * fraction, outcome="passed", worker=1
                )
        self.stdout.write(f"Seeded {len(FRACTIONS)} runs of {len(HISTORY_P95)} tests.")
