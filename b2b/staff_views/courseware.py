"""The contract's courseware: search, the plan of an addition or removal (the commands'
``--dry-run``), then the change."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from wagtail.admin import messages

from b2b.models import ContractPage
from b2b.services.codes import codes_plan_rows
from b2b.services.courseware import courseware_add, courseware_remove
from b2b.services.overview import contract_overview
from b2b.staff_views.base import page_render, page_url, staff_required
from courses.models import Course, CourseRun, Program
from main.exceptions import DomainError


def courseware_search(query: str, *, limit: int = 20) -> list[dict[str, str]]:
    """Courses, programs and source course runs whose title or readable ID contains ``query``."""
    query = query.strip()
    if not query:
        return []
    found: list[dict[str, str]] = []
    for program in Program.objects.filter(
        Q(title__icontains=query) | Q(readable_id__icontains=query)
    ).order_by("readable_id")[:limit]:
        found.append({"kind": "Program", "id": program.readable_id, "title": program.title})
    for course in Course.objects.filter(
        Q(title__icontains=query) | Q(readable_id__icontains=query)
    ).order_by("readable_id")[:limit]:
        found.append({"kind": "Course", "id": course.readable_id, "title": course.title})
    for run in (
        CourseRun.objects.filter(b2b_contract__isnull=True, is_source_run=False)
        .filter(Q(title__icontains=query) | Q(courseware_id__icontains=query))
        .order_by("courseware_id")[:limit]
    ):
        found.append({"kind": "Course run", "id": run.courseware_id, "title": run.title})
    return found[:limit]


@staff_required
def courseware(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """The contract's courseware, each run's Open edX status, and the picker to add more."""
    query = request.GET.get("q", "")
    facts = contract_overview(contract)
    return page_render(
        request,
        contract,
        "courseware",
        "courseware.html",
        overview=facts,
        query=query,
        results=courseware_search(query),
        failed_runs=[r for r in facts.courseware if r["edx_status"] == "failed"],
    )


@staff_required
def courseware_plan(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """GET: the plan of adding or removing ``readable_id`` (the command's ``--dry-run``), with a
    confirm button. POST with ``confirm``: make the change, then back to the courseware tab."""
    data = request.POST if request.method == "POST" else request.GET
    readable_id = (data.get("readable_id") or "").strip()
    action = data.get("action", "add")
    if action not in ("add", "remove"):
        messages.error(request, "Choose to add or to remove courseware.")
        return redirect(page_url("courseware", contract))
    change = courseware_add if action == "add" else courseware_remove
    if request.method == "POST":
        try:
            result = change(contract.pk, readable_id)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(page_url("courseware", contract, q=readable_id))
        failed = result.failed
        if failed:
            messages.error(
                request,
                result.message
                + " Failed: "
                + "; ".join(f"{item.course}: {item.detail}" for item in failed),
            )
        else:
            messages.success(request, result.message)
        return redirect(page_url("courseware", contract))
    try:
        result = change(contract.pk, readable_id, dry_run=True)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(page_url("courseware", contract, q=readable_id))
    return page_render(
        request,
        contract,
        "courseware",
        "courseware_plan.html",
        result=result,
        action=action,
        readable_id=result.readable_id,
        message=result.message.removeprefix(
            "Dry run, nothing changed. The real run would report: "
        ),
        items=result.items,
        plan_rows=codes_plan_rows(result.plan) if result.plan else [],
        plan=result.plan,
    )
