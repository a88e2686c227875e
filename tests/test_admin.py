"""The read-only history admin and its server-side SVG charts."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.urls import reverse

from concurrent_test_app.history import charts, record_run
from concurrent_test_app.models import Case, Run
from tests.test_history import START, make_report

SVG = "{http://www.w3.org/2000/svg}"


def svgs(html: str, css_class: str) -> list[ElementTree.Element]:
    """Return the parsed <svg> elements of ``css_class`` in a page."""
    found = re.findall(rf'<svg[^>]*class="ct-chart {css_class}".*?</svg>', html, flags=re.S)
    return [ElementTree.fromstring(svg) for svg in found]


@pytest.fixture
def history(db: None) -> list[Run]:
    """Record five runs of three units; one test fails in the fourth run only."""
    for number in range(5):
        outcomes = {"app.tests.Slow.test_1": "failed"} if number == 3 else {}
        record_run(
            make_report(
                {"app.tests.Slow": 3.0 + number, "app.tests.Mid": 1.0, "other.tests.Fast": 0.2},
                outcomes=outcomes,
                started_at=START + 3600 * number,
                exit_status=1 if outcomes else 0,
            )
        )
    return list(Run.objects.order_by("started_at"))


def test_runs_list_filters_and_date_hierarchy(admin_client: Client, history: list[Run]) -> None:
    url = reverse("admin:concurrent_test_app_run_changelist")
    page = admin_client.get(url).content.decode()
    assert page.count('class="ct-badge"') == 5
    for heading in ("By outcome", "By vendor", "By git branch"):
        assert heading in page
    assert '<nav class="toplinks">' in page and "started_at__" in page  # the date hierarchy

    failed = admin_client.get(url, {"outcome__exact": "failed"}).content.decode()
    assert failed.count('class="ct-badge"') == 1
    assert reverse("admin:concurrent_test_app_run_change", args=[history[3].pk]) in failed


def test_run_page_draws_the_timeline_and_lists_the_slowest_tests(
    admin_client: Client, history: list[Run]
) -> None:
    run = history[-1]
    page = admin_client.get(reverse("admin:concurrent_test_app_run_change", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()

    (timeline,) = svgs(html, "ct-timeline")
    bars = timeline.findall(f".//{SVG}rect")
    assert len(bars) == 3  # one bar per unit, on the lanes of two workers
    assert all(float(bar.get("width", 0)) > 0 for bar in bars)
    titles = [bar.findtext(f"{SVG}title") for bar in bars]
    assert any(t and t.startswith("app.tests.Slow: 7.00 s") for t in titles)
    lanes = [t.text for t in timeline.findall(f"{SVG}text") if (t.text or "").startswith("worker")]
    assert lanes == ["worker 1", "worker 2"]

    slowest = re.findall(r'<td class="id"><a href="[^"]+">([^<]+)</a>', html)
    assert slowest[:2] == ["app.tests.Slow.test_0", "app.tests.Slow.test_1"]
    assert len(slowest) == 6
    case = Case.objects.get(test_id="app.tests.Slow.test_0")
    assert reverse("admin:concurrent_test_app_case_change", args=[case.pk]) in html
    assert "Slowest work units" in html


def test_tests_list_has_latest_duration_sparkline_and_flaky_flag(
    admin_client: Client, history: list[Run], django_assert_max_num_queries: object
) -> None:
    url = reverse("admin:concurrent_test_app_case_changelist")
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        html = admin_client.get(url).content.decode()

    sparklines = svgs(html, "ct-sparkline")
    assert len(sparklines) == 6
    # Slowest first: the Slow tests lead, their trend rising over five runs.
    first_row = html.index("app.tests.Slow.test_")
    assert first_row < html.index("app.tests.Mid.test_0")
    line = sparklines[0].find(f"{SVG}polyline")
    assert line is not None
    ys = [float(p.split(",")[1]) for p in line.get("points", "").split()]
    assert len(ys) == 5 and ys == sorted(ys, reverse=True)  # SVG y grows downwards
    assert "3.45 s" in html  # latest duration of a Slow test: (7.0 - 0.1) / 2

    flaky = admin_client.get(url, {"flaky__exact": "1"}).content.decode()
    assert "app.tests.Slow.test_1" in flaky
    assert "app.tests.Slow.test_0" not in flaky


def test_test_page_draws_its_duration_over_runs(admin_client: Client, history: list[Run]) -> None:
    case = Case.objects.get(test_id="app.tests.Slow.test_1")
    html = admin_client.get(
        reverse("admin:concurrent_test_app_case_change", args=[case.pk])
    ).content.decode()
    (chart,) = svgs(html, "ct-duration")
    points = chart.findall(f".//{SVG}circle")
    assert len(points) == 5
    colours = [p.get("fill") for p in points]
    assert colours.count(charts.OUTCOME_COLOURS["failed"]) == 1
    links = [a.get("href") for a in chart.findall(f"{SVG}a")]
    assert links[0] == reverse("admin:concurrent_test_app_run_change", args=[history[0].pk])
    assert "Flaky:" in html
    assert "Traceback: failed" in html


def test_admin_is_read_only(admin_client: Client, history: list[Run]) -> None:
    run = history[0]
    change = reverse("admin:concurrent_test_app_run_change", args=[run.pk])
    assert admin_client.get(reverse("admin:concurrent_test_app_run_add")).status_code == 403
    assert admin_client.post(change, {"shard": "9/9"}).status_code == 403
    delete = reverse("admin:concurrent_test_app_run_delete", args=[run.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert 'name="_save"' not in admin_client.get(change).content.decode()
    run.refresh_from_db()
    assert run.shard == ""


def test_anonymous_users_are_sent_to_the_login(client: Client, history: list[Run]) -> None:
    response = client.get(reverse("admin:concurrent_test_app_run_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_run_without_a_timeline_says_so(admin_client: Client, db: None) -> None:
    report = make_report({"a.A": 1.0})
    for worker in report.workers:
        worker.timeline = []
    record_run(report)
    html = admin_client.get(
        reverse("admin:concurrent_test_app_run_change", args=[Run.objects.get().pk])
    ).content.decode()
    assert "recorded no worker timeline" in html
    assert not svgs(html, "ct-timeline")


# -- the charts themselves ---------------------------------------------------------------------


def test_chart_text_is_escaped() -> None:
    svg = charts.timeline_svg([("worker 1", [("app.<script>alert(1)</script>", 0.0, 50.0)])])
    assert "<script>" not in svg
    ElementTree.fromstring(str(svg))
    chart = charts.duration_chart_svg([charts.ChartPoint('"><x>', 1.0, "error", "/a?b=1&c=2")])
    assert "<x>" not in chart and "&amp;c=2" in chart
    ElementTree.fromstring(str(chart))


def test_empty_and_single_point_charts_are_well_formed() -> None:
    for svg in (
        charts.sparkline_svg([]),
        charts.sparkline_svg([0.0]),
        charts.timeline_svg([]),
        charts.duration_chart_svg([]),
        charts.duration_chart_svg([charts.ChartPoint("only", 0.0)]),
    ):
        root = ElementTree.fromstring(str(svg))
        assert float(root.get("width", 0)) > 0 and float(root.get("height", 0)) > 0


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (7.0, [0, 2, 4, 6, 8]),
        (0.9, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (130.0, [0, 25, 50, 75, 100, 125, 150]),
        (0.0, [0, 1]),
    ],
)
def test_nice_ticks(maximum: float, ticks: list[float]) -> None:
    assert charts.nice_ticks(maximum) == pytest.approx(ticks)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0004, "<1 ms"), (0.25, "250 ms"), (2.414, "2.41 s"), (185.2, "3m 05s")],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert charts.format_seconds(seconds) == text


def test_unit_colours_are_stable() -> None:
    assert charts.unit_colour("app.tests.A") == charts.unit_colour("app.tests.A")
    assert len({charts.unit_colour(f"app.tests.C{i}") for i in range(40)}) > 5
