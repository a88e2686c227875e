"""Keep each test's recent outcomes on its Case, filled once from the results already recorded."""

from collections import defaultdict

from django.db import migrations, models

# The app's own window query and letters: the filled values must read as record_run writes them.
from concurrent_test_app.history.store import chunks, newest_per_key
from concurrent_test_app.models import FLAKY_WINDOW, outcome_letters


def fill_recent_outcomes(apps, schema_editor):
    """Set every test's recent outcomes from its last FLAKY_WINDOW results (one window query)."""
    alias = schema_editor.connection.alias
    case_model = apps.get_model("concurrent_test_app", "Case")
    result_model = apps.get_model("concurrent_test_app", "CaseResult")
    results = result_model.objects.using(alias).all()
    recent = defaultdict(list)
    for case_id, recency, outcome in newest_per_key(
        results, "case_id", FLAKY_WINDOW, "case_id", "recency", "outcome"
    ):
        recent[case_id].append((recency, outcome))
    # Most tests share a few values ("pppppppppp"): one UPDATE per value and chunk of ids.
    cases_by_letters = defaultdict(list)
    for case_id, ranked in recent.items():
        cases_by_letters[outcome_letters(outcome for _, outcome in sorted(ranked))].append(case_id)
    for letters, case_ids in cases_by_letters.items():
        for chunk in chunks(case_ids):
            case_model.objects.using(alias).filter(pk__in=chunk).update(recent_outcomes=letters)


class Migration(migrations.Migration):
    dependencies = [
        ("concurrent_test_app", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="recent_outcomes",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="One letter per outcome of the test's most recent runs, newest first.",
                max_length=10,
            ),
        ),
        migrations.RunPython(fill_recent_outcomes, migrations.RunPython.noop, elidable=True),
    ]
