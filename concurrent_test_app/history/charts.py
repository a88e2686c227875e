"""Charts for the admin, drawn on the server as inline SVG: no JavaScript, nothing from a CDN.

Every function returns a complete ``<svg>`` element as a safe string. Text that came from the
database (test ids, unit keys) is escaped; tooltips are SVG ``<title>`` elements, which every
browser shows on hover without any script.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

OUTCOME_COLOURS = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "error": "#e65100",
    "skipped": "#757575",
    "expected_failure": "#558b2f",
    "unexpected_success": "#ad1457",
    "not_run": "#9e9e9e",
}
# Unit colours: distinguishable, and readable with white text on top.
_PALETTE = (
    "#1565c0",
    "#00838f",
    "#6a1b9a",
    "#2e7d32",
    "#ef6c00",
    "#ad1457",
    "#4527a0",
    "#00695c",
    "#5d4037",
    "#283593",
)
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
_AXIS = "#6b6b6b"
_GRID = "#e3e3e3"


@dataclass(frozen=True)
class ChartPoint:
    """One point of a duration chart: a run's label, the duration and how the test ended."""

    label: str
    value: float
    outcome: str = "passed"
    url: str = ""


def format_seconds(seconds: float) -> str:
    """Return a short human reading of a duration: "850 ms", "2.41 s", "3m 05s"."""
    if seconds < 0.001:
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s"


def unit_colour(key: str) -> str:
    """Return a colour for a unit key that is the same on every page and every machine."""
    digest = hashlib.blake2s(key.encode("utf-8"), digest_size=2).digest()
    return _PALETTE[int.from_bytes(digest, "big") % len(_PALETTE)]


def nice_ticks(maximum: float, count: int = 6) -> list[float]:
    """Return round tick values from 0 to at least ``maximum`` (at most about ``count`` + 1)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(value: float, step: float) -> str:
    if step >= 60:
        return format_seconds(value)
    if step >= 1:
        return f"{value:g} s"
    if step >= 0.001:
        return f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"
    return f"{value:.4g} s"


def _svg(width: float, height: float, label: str, css_class: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ct-chart {css_class}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{escape(label)}" style="{_FONT};font-size:12px">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def timeline_svg(
    lanes: Sequence[tuple[str, Sequence[tuple[str, float, float]]]],
    *,
    width: int = 960,
    lane_height: int = 28,
) -> SafeString:
    """Draw one lane per worker with a bar per work unit, from the run's start to its end.

    ``lanes`` holds ``(label, [(unit key, start s, end s), ...])``; bars carry the unit's
    name when it fits and a tooltip with its key and times.
    """
    left, right, top, axis = 90, 16, 10, 30
    end = max((stop for _, segments in lanes for _, _, stop in segments), default=0.0)
    ticks = nice_ticks(end)
    span = ticks[-1] or 1.0
    plot = width - left - right
    height = top + max(len(lanes), 1) * lane_height + axis

    def x(seconds: float) -> float:
        return left + plot * max(seconds, 0.0) / span

    body = []
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    bottom = top + len(lanes) * lane_height
    for tick in ticks:
        body.append(
            f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{bottom}" '
            f'stroke="{_GRID}"/>'
            f'<text x="{x(tick):.1f}" y="{bottom + 16}" text-anchor="middle" fill="{_AXIS}">'
            f"{escape(_tick_label(tick, step))}</text>"
        )
    for row, (label, segments) in enumerate(lanes):
        y = top + row * lane_height
        body.append(
            f'<text x="{left - 8}" y="{y + lane_height / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#333">{escape(label)}</text>'
        )
        for key, start, stop in segments:
            bar_x, bar_w = x(start), max(x(stop) - x(start), 1.0)
            tip = f"{key}: {format_seconds(stop - start)} ({start:.2f} s to {stop:.2f} s)"
            name = _short(key)
            text = ""
            if bar_w > 7 * len(name) + 8:
                text = (
                    f'<text x="{bar_x + 4:.1f}" y="{y + lane_height / 2 + 4:.1f}" '
                    f'fill="#fff" pointer-events="none">{escape(name)}</text>'
                )
            body.append(
                f'<g class="ct-bar"><rect x="{bar_x:.1f}" y="{y + 3}" width="{bar_w:.1f}" '
                f'height="{lane_height - 6}" rx="3" fill="{unit_colour(key)}" '
                f'stroke="#fff" stroke-width="1"><title>{escape(tip)}</title></rect>{text}</g>'
            )
    body.append(
        f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="{_AXIS}"/>'
    )
    label = f"Timeline of {len(lanes)} workers over {format_seconds(end)}"
    return _svg(width, height, label, "ct-timeline", body)


def sparkline_svg(
    values: Sequence[float],
    outcomes: Sequence[str] = (),
    *,
    width: int = 120,
    height: int = 24,
) -> SafeString:
    """Draw a small trend line of durations, oldest first, with the latest point marked.

    Points whose outcome (when given) is not a pass are drawn in the outcome's colour.
    """
    pad = 3
    if not values:
        return _svg(width, height, "No history", "ct-sparkline", [])
    top = max(values) or 1.0
    count = len(values)

    def point(index: int, value: float) -> tuple[float, float]:
        px = pad + (width - 2 * pad) * (index / (count - 1) if count > 1 else 0.5)
        py = height - pad - (height - 2 * pad) * (value / top)
        return px, py

    points = [point(i, v) for i, v in enumerate(values)]
    body = [
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" '
        f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>'
    ]
    for (px, py), outcome in zip(points, outcomes, strict=False):
        if outcome not in ("passed", "skipped", "not_run", "expected_failure"):
            body.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" '
                f'fill="{OUTCOME_COLOURS.get(outcome, "#c62828")}"/>'
            )
    last_x, last_y = points[-1]
    body.append(f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="#1565c0"/>')
    label = (
        f"{count} runs: latest {format_seconds(values[-1])}, "
        f"fastest {format_seconds(min(values))}, slowest {format_seconds(max(values))}"
    )
    return _svg(width, height, label, "ct-sparkline", body)


def duration_chart_svg(
    points: Sequence[ChartPoint], *, width: int = 960, height: int = 280
) -> SafeString:
    """Draw a test's duration over runs, oldest first: a line and one dot per run.

    Dots take the colour of the run's outcome and link to the run's page when ``url`` is set.
    """
    # Room on the right for the last run's label, centred under the last dot.
    left, right, top, bottom_pad = 70, 44, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom_pad
    ticks = nice_ticks(max((p.value for p in points), default=0.0), count=5)
    span = ticks[-1] or 1.0
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    count = len(points)

    def x(index: int) -> float:
        return left + plot_w * (index / (count - 1) if count > 1 else 0.5)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / span

    body = []
    for tick in ticks:
        body.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" '
            f'stroke="{_GRID}"/>'
            f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{_AXIS}">'
            f"{escape(_tick_label(tick, step))}</text>"
        )
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{_AXIS}"/>'
    )
    if count > 1:
        body.append(
            '<polyline fill="none" stroke="#1565c0" stroke-width="2" points="'
            + " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
            + '"/>'
        )
    # Label about eight runs along the axis, whatever their number.
    every = max(1, math.ceil(count / 8))
    for index, chart_point in enumerate(points):
        colour = OUTCOME_COLOURS.get(chart_point.outcome, "#333")
        tip = f"{chart_point.label}: {format_seconds(chart_point.value)}, {chart_point.outcome}"
        dot = (
            f'<circle class="ct-point" cx="{x(index):.1f}" cy="{y(chart_point.value):.1f}" '
            f'r="4" fill="{colour}" stroke="#fff" stroke-width="1">'
            f"<title>{escape(tip.replace('_', ' '))}</title></circle>"
        )
        if chart_point.url:
            dot = f'<a href="{escape(chart_point.url)}">{dot}</a>'
        body.append(dot)
        if index % every == 0 or index == count - 1:
            body.append(
                f'<text x="{x(index):.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'fill="{_AXIS}">{escape(chart_point.label)}</text>'
            )
    label = f"Duration over {count} runs"
    return _svg(width, height, label, "ct-duration", body)
