"""A read-only admin over the timing history, with charts drawn on the server as SVG.

Runs: a list with a date hierarchy and filters, and a page per run with its per-worker
timeline and slowest tests. Tests: a list with the latest duration, a trend sparkline and a
flaky flag, and a page per test with its duration over runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from concurrent_test_app.history import FLAKY_WINDOW, charts
from concurrent_test_app.models import Case, CaseResult, Run, UnitTiming, WorkerStat

logger = logging.getLogger(__name__)

SLOWEST_TESTS = 20
SLOWEST_UNITS = 10
# How many runs the test page's chart and table go back.
TEST_PAGE_RUNS = 50

if TYPE_CHECKING:
    # django-stubs makes ModelAdmin generic in its model; Django's own class cannot be
    # subscripted. The base serves every history model, whose pages each type their own.
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = admin.ModelAdmin


class ReadOnlyAdmin(_ModelAdmin):
    """History is written by test runs only: nobody adds, edits or deletes it by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def detail_context(self, obj: Any) -> dict[str, Any]:
        """Return what the object's page shows beside its fields (charts, related rows)."""
        return {}

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None:
            context.update(self.detail_context(obj))
        return super().change_view(request, object_id, form_url, context)

    def url_for(self, model: type[Any], pk: Any) -> str:
        """Return the admin page of one history object on this admin site."""
        opts = model._meta
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[pk]
        )


def outcome_badge(outcome: str, text: str | None = None) -> SafeString:
    """Return an outcome as a small coloured label."""
    colour = charts.OUTCOME_COLOURS.get(outcome, "#6b6b6b")
    if outcome == Run.Outcome.TIMED_OUT:
        colour = "#e65100"
    elif outcome == Run.Outcome.INTERRUPTED:
        colour = "#6b6b6b"
    return format_html(
        '<span class="ct-badge" style="background:{};color:#fff;padding:1px 7px;'
        'border-radius:9px;font-size:11px;white-space:nowrap">{}</span>',
        colour,
        text or outcome.replace("_", " "),
    )


def with_row_fields(
    results: list[CaseResult], link: Callable[[CaseResult], str]
) -> list[CaseResult]:
    """Give each result what its table row shows: a link, an outcome badge, its duration."""
    for result in results:
        # Attributes for the change_form templates, set on the model instances they iterate.
        result.admin_url = link(result)  # type: ignore[attr-defined]
        result.badge = outcome_badge(result.outcome)  # type: ignore[attr-defined]
        result.shown = charts.format_seconds(result.duration)  # type: ignore[attr-defined]
    return results


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "outcome_label",
        "tests_run",
        "failures",
        "errors",
        "skipped",
        "wall",
        "workers",
        "shard",
        "vendor",
        "git_branch",
        "commit",
    )
    list_display_links = ("started_at",)
    readonly_fields = ("wall", "outcome_label")
    list_filter = ("outcome", "vendor", "git_branch")
    date_hierarchy = "started_at"
    search_fields = ("git_commit", "git_branch", "host")
    fieldsets = (
        (None, {"fields": ("started_at", "finished_at", "wall", "outcome_label", "exit_status")}),
        (
            "Counts",
            {
                "fields": (
                    "tests_run",
                    "passed",
                    "failures",
                    "errors",
                    "skipped",
                    "expected_failures",
                    "unexpected_successes",
                    "not_run",
                )
            },
        ),
        (
            "Where",
            {
                "fields": (
                    "workers",
                    "shard",
                    "vendor",
                    "template_fingerprint",
                    "git_commit",
                    "git_branch",
                    "host",
                )
            },
        ),
    )

    @admin.display(description="outcome", ordering="outcome")
    def outcome_label(self, run: Run) -> SafeString:
        return outcome_badge(run.outcome, run.get_outcome_display())

    @admin.display(description="wall time", ordering="wall_seconds")
    def wall(self, run: Run) -> str:
        return charts.format_seconds(run.wall_seconds)

    @admin.display(description="commit", ordering="git_commit")
    def commit(self, run: Run) -> str:
        return run.git_commit[:10]

    def detail_context(self, run: Run) -> dict[str, Any]:
        """Return the timeline chart, the workers and the slowest tests and units of a run."""
        workers = list(WorkerStat.objects.using(run._state.db).filter(run=run).order_by("slot"))
        lanes = [
            (f"worker {worker.slot}", [(str(k), float(s), float(e)) for k, s, e in worker.timeline])
            for worker in workers
        ]
        slowest = with_row_fields(
            list(
                CaseResult.objects.using(run._state.db)
                .filter(run=run)
                .select_related("case")
                .order_by("-duration", "case__test_id")[:SLOWEST_TESTS]
            ),
            lambda result: self.url_for(Case, result.case_id),
        )
        units = list(
            UnitTiming.objects.using(run._state.db)
            .filter(run=run)
            .order_by("-seconds", "key")[:SLOWEST_UNITS]
        )
        return {
            "timeline": charts.timeline_svg(lanes) if any(seg for _, seg in lanes) else None,
            "worker_stats": workers,
            "slowest_tests": slowest,
            "slowest_units": units,
        }


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("test_id", "latest", "trend", "latest_label", "flaky", "last_seen")
    list_filter = ("flaky", "latest_outcome")
    search_fields = ("test_id",)
    ordering = ("-latest_duration", "test_id")
    fields = ("test_id", "class_name", "unit", "latest", "latest_label", "flaky", "last_seen")
    readonly_fields = ("latest", "latest_label", "last_seen")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        # One windowed query fetches the recent results of every test on the page.
        recent = CaseResult.objects.order_by("-run_id")[:FLAKY_WINDOW]
        return (
            super()
            .get_queryset(request)
            .select_related("last_run")
            .prefetch_related(Prefetch("results", queryset=recent, to_attr="recent_results"))
        )

    @admin.display(description="latest duration", ordering="latest_duration")
    def latest(self, case: Case) -> str:
        return charts.format_seconds(case.latest_duration)

    @admin.display(description=f"trend (last {FLAKY_WINDOW} runs)")
    def trend(self, case: Case) -> SafeString:
        recent = list(reversed(getattr(case, "recent_results", [])))
        return charts.sparkline_svg([r.duration for r in recent], [r.outcome for r in recent])

    @admin.display(description="latest outcome", ordering="latest_outcome")
    def latest_label(self, case: Case) -> SafeString | str:
        return outcome_badge(case.latest_outcome) if case.latest_outcome else "-"

    @admin.display(description="last run", ordering="last_run__started_at")
    def last_seen(self, case: Case) -> SafeString | str:
        if case.last_run is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            self.url_for(Run, case.last_run.pk),
            case.last_run.started_at.strftime("%Y-%m-%d %H:%M"),
        )

    def detail_context(self, case: Case) -> dict[str, Any]:
        """Return the test's duration chart and its recent results, newest first."""
        results = with_row_fields(
            list(
                CaseResult.objects.using(case._state.db)
                .filter(case=case)
                .select_related("run")
                .order_by("-run__started_at", "-run_id")[:TEST_PAGE_RUNS]
            ),
            lambda result: self.url_for(Run, result.run_id),
        )
        points = [
            charts.ChartPoint(
                label=result.run.started_at.strftime("%m-%d %H:%M"),
                value=result.duration,
                outcome=result.outcome,
                url=result.admin_url,  # type: ignore[attr-defined]
            )
            for result in reversed(results)
        ]
        return {
            "duration_chart": charts.duration_chart_svg(points) if points else None,
            "recent_results": results,
            "flaky_window": FLAKY_WINDOW,
        }
