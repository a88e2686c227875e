"""History models: in step with their migrations, named safely, and deleted together."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, transaction

from concurrent_test_app.models import Case, CaseResult, Run, UnitTiming, WorkerStat
from tests.test_history import make_report


@pytest.mark.django_db
def test_models_and_migrations_do_not_drift() -> None:
    out = StringIO()
    try:
        call_command("makemigrations", "concurrent_test_app", "--check", "--dry-run", stdout=out)
    except SystemExit:  # makemigrations --check exits 1 when a migration is missing
        pytest.fail(f"concurrent_test_app's models changed without a migration:\n{out.getvalue()}")


def test_no_model_class_is_collected_by_pytest() -> None:
    names = [model.__name__ for model in apps.get_app_config("concurrent_test_app").get_models()]
    assert names
    assert not [name for name in names if name.startswith("Test")]


@pytest.mark.django_db
def test_deleting_a_run_deletes_what_it_recorded_and_keeps_the_tests() -> None:
    from concurrent_test_app.history import record_run

    assert record_run(make_report({"a.A": 1.0, "b.B": 2.0}))
    run = Run.objects.get()
    assert str(run).startswith(f"Run {run.pk} at ")
    assert str(UnitTiming.objects.get(key="a.A")) == "a.A: 1.000s"
    assert str(WorkerStat.objects.get(slot=1)) == f"worker 1 of run {run.pk}"

    run.delete()

    assert not CaseResult.objects.exists()
    assert not UnitTiming.objects.exists()
    assert not WorkerStat.objects.exists()
    assert Case.objects.count() == 4
    assert Case.objects.filter(last_run__isnull=True).count() == 4


@pytest.mark.django_db
def test_a_test_is_recorded_once_per_run() -> None:
    from concurrent_test_app.history import record_run

    assert record_run(make_report({"a.A": 1.0}))
    result = CaseResult.objects.first()
    assert result is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseResult.objects.create(run=result.run, case=result.case, outcome="passed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(test_id=result.case.test_id)
