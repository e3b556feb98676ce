"""The contract's overview: seats against the cap, codes, the activity chart (server-rendered
SVG), and each run's Open edX status with a retry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from wagtail.admin import messages

from b2b.models import ContractPage
from b2b.services.edx_sync import contract_edx_sync
from b2b.services.overview import contract_activity, contract_overview
from b2b.staff_views.base import page_render, page_url, staff_required
from main.exceptions import DomainError


def activity_chart(days: list[Any], *, width: int = 720, height: int = 220) -> dict[str, Any]:
    """A server-rendered step chart of cumulative redemptions and attachments
    (``contract_activity`` rows), a week wide at least and up to today: polyline points, axis
    labels and totals, for ``b2b/contract/_chart.html``."""
    if not days:
        return {"empty": True}
    left, right, top, bottom = 48, 16, 16, 36
    last = max(days[-1].day, timezone.localdate())
    first = min(days[0].day, last - dt.timedelta(days=6))  # a week at least
    span = max((last - first).days, 1)
    totals = {"redemptions": 0, "attachments": 0}
    series: dict[str, list[tuple[dt.date, int]]] = {"redemptions": [], "attachments": []}
    for day in days:
        for name in series:
            totals[name] += getattr(day, name)
            series[name].append((day.day, totals[name]))
    top_value = max(max(totals.values()), 1)

    def x(day: dt.date) -> float:
        return round(left + (width - left - right) * (day - first).days / span, 1)

    def y(value: int) -> float:
        return round(top + (height - top - bottom) * (1 - value / top_value), 1)

    lines = {}
    for name, points in series.items():
        steps, previous = [f"{x(first)},{y(0)}"], 0
        for day, value in points:  # a step on each day: the totals change on that day
            steps += [f"{x(day)},{y(previous)}", f"{x(day)},{y(value)}"]
            previous = value
        steps.append(f"{x(last)},{y(points[-1][1])}")
        lines[name] = " ".join(steps)
    ticks = sorted({0, top_value // 2, top_value})
    return {
        "empty": False,
        "width": width,
        "height": height,
        "lines": lines,
        "totals": totals,
        "y_ticks": [{"y": y(v), "label": v} for v in ticks],
        "x_labels": [
            {"x": x(first), "label": first, "anchor": "start"},
            {"x": x(last), "label": last, "anchor": "end"},
        ],
        "axis_y": height - bottom,
        "left": left,
        "right": width - right,
    }


@staff_required
def overview(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """Seats used against the cap, codes by state, the courseware with its Open edX status, and
    the chart of redemptions and attachments over time."""
    facts = contract_overview(contract)
    runs = [row for row in facts.courseware if row["type"] == "run"]
    return page_render(
        request,
        contract,
        "overview",
        "overview.html",
        overview=facts,
        seats_percent=(min(100, round(100 * facts.learners / facts.cap)) if facts.cap else None),
        chart=activity_chart(contract_activity(contract.pk)),
        failed_runs=[row for row in runs if row["edx_status"] == "failed"],
    )


@staff_required
def edx_retry(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """POST: retry the Open edX sync of the contract's runs and enrollments that are not there
    yet (``b2b_courseware sync-edx``)."""
    if request.method != "POST":
        return redirect(page_url("overview", contract))
    try:
        result = contract_edx_sync(contract.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        (messages.error if result.failed else messages.success)(request, result.message)
    return redirect(page_url("courseware", contract))
