"""The contract's own pages in the Wagtail admin (SPEC §7): overview, courseware, codes, learners
and history, linked from the contract's edit page and the page listing (``b2b.wagtail_hooks``).

Staff do here what the commands do, through the same services (``b2b.services.*``): a change is
planned first where the command has ``--dry-run``, confirmed with a POST (CSRF), recorded with the
person as actor (``main.actors.ActorMiddleware`` acts as the request's user, via ``wagtail``), and
a refusal (``DomainError``) is a message on the page, never a 500. Only B2B staff and superusers
get in (``staff_required``); anyone else gets 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from wagtail.admin import messages

from b2b.models import ContractMembership, ContractPage
from b2b.services.audit import AUDIT_ACTIONS, audit_history, changes_text, via_label
from b2b.services.code_operations import code_status, codes_deactivate
from b2b.services.codes import codes_csv_chunks, codes_plan_rows
from b2b.services.courseware import courseware_add, courseware_remove
from b2b.services.edx_sync import contract_edx_sync
from b2b.services.memberships import learners_list, membership_add, membership_remove
from b2b.services.overview import contract_activity, contract_codes, contract_overview
from b2b.services.staff import STAFF_GROUP
from courses.models import Course, CourseRun, CourseRunEnrollment, Program
from ecommerce.models import DiscountProduct
from main.actors import actor_current
from main.exceptions import DomainError
from main.exports import csv_writer

CODES_PER_PAGE = 50
STATUSES = ("usable", "redeemed", "deactivated")
TABS = (
    ("overview", "Overview"),
    ("courseware", "Courseware"),
    ("codes", "Enrollment codes"),
    ("learners", "Learners"),
    ("history", "History"),
)


def staff_can_manage(user: Any) -> bool:
    """B2B staff (the "B2B staff" group) and superusers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=STAFF_GROUP).exists()


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, contract_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        if not staff_can_manage(request.user):
            raise PermissionDenied("Only B2B staff and superusers manage contracts.")
        contract = ContractPage.objects.filter(pk=contract_id).select_related("organization")
        found = contract.first()
        if found is None:
            raise Http404(f"No contract with ID {contract_id}.")
        return view(request, found, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _url(name: str, contract: ContractPage, **query: Any) -> str:
    url = reverse(f"b2b_contract:{name}", args=[contract.pk])
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def _page(
    request: HttpRequest, contract: ContractPage, tab: str, template: str, **context: Any
) -> HttpResponse:
    title = dict(TABS)[tab]
    context.update(
        contract=contract,
        organization=contract.organization,
        tab=tab,
        tabs=[(name, label, _url(name, contract)) for name, label in TABS],
        header_title=f"{title}: {contract.name}",
        page_title=title,
        page_subtitle=contract.name,
        header_icon="doc-full-inverse",
        edit_url=reverse("wagtailadmin_pages:edit", args=[contract.pk]),
        in_force=contract.is_in_force(),
        plan_url=reverse("b2b_contract:courseware_plan", args=[contract.pk]),
    )
    return render(request, f"b2b/contract/{template}", context)


# -- overview ------------------------------------------------------------------------------------


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
    return _page(
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
        return redirect(_url("overview", contract))
    try:
        result = contract_edx_sync(contract.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        (messages.error if result.failed else messages.success)(request, result.message)
    return redirect(_url("courseware", contract))


# -- courseware ----------------------------------------------------------------------------------


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
    return _page(
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
        return redirect(_url("courseware", contract))
    change = courseware_add if action == "add" else courseware_remove
    if request.method == "POST":
        try:
            result = change(contract.pk, readable_id)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(_url("courseware", contract, q=readable_id))
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
        return redirect(_url("courseware", contract))
    try:
        result = change(contract.pk, readable_id, dry_run=True)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_url("courseware", contract, q=readable_id))
    return _page(
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


# -- codes ---------------------------------------------------------------------------------------


@staff_required
def codes(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """The contract's enrollment codes, 50 a page, by status and searched by code text; select
    codes to deactivate (a confirmation follows)."""
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    rows = contract_codes(contract.pk).distinct()
    if status == "usable":
        rows = rows.usable()
    elif status == "redeemed":
        rows = rows.redeemed()
    elif status == "deactivated":
        rows = rows.filter(is_active=False)
    elif status:
        messages.error(
            request, f"Unknown status {status!r}: choose usable, redeemed or deactivated."
        )
        status = ""
    if query:
        rows = rows.filter(discount_code__icontains=query)
    rows = rows.annotate(used=Count("redemptions", distinct=True)).order_by("pk")
    pages = Paginator(rows, CODES_PER_PAGE)
    page = pages.get_page(request.GET.get("p"))
    products = {
        link.discount_id: link.product.description
        for link in DiscountProduct.objects.filter(
            discount__in=list(page.object_list), product__course_run__b2b_contract=contract
        ).select_related("product")
    }
    listing = [
        {
            "code": code.discount_code,
            "product": products.get(code.pk, "—"),
            "status": code_status(
                is_active=code.is_active,
                redemption_type=code.redemption_type,
                redemptions=code.used,
            ),
            "type": code.get_redemption_type_display(),
            "amount": code.amount,
        }
        for code in page.object_list
    ]
    return _page(
        request,
        contract,
        "codes",
        "codes.html",
        page=page,
        listing=listing,
        status=status,
        statuses=STATUSES,
        query=query,
        total=pages.count,
        csv_url=_url("codes_csv", contract),
        deactivate_url=_url("codes_deactivate", contract),
        previous_url=_url("codes", contract, status=status, q=query, p=page.number - 1),
        next_url=_url("codes", contract, status=status, q=query, p=page.number + 1),
    )


@staff_required
def codes_csv(request: HttpRequest, contract: ContractPage) -> StreamingHttpResponse:
    """The codes CSV, streamed: the same bytes ``b2b_list contracts --codes ID`` writes."""
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in codes_csv_chunks(contract)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="codes-{contract.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@staff_required
def codes_deactivate_view(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """POST ``code`` (one or more): confirm page; POST with ``confirm``: deactivate them
    (``codes_deactivate``; a capped contract gets fresh codes by the code adjustment)."""
    if request.method != "POST":
        return redirect(_url("codes", contract))
    texts = [t.strip() for t in request.POST.getlist("code") if t.strip()]
    if not texts:
        messages.error(request, "Select the codes to deactivate first.")
        return redirect(_url("codes", contract))
    mine = set(
        contract_codes(contract.pk)
        .filter(discount_code__in=texts)
        .values_list("discount_code", flat=True)
    )
    foreign = [t for t in texts if t not in mine]
    if foreign:
        messages.error(
            request,
            f"Not codes of this contract: {', '.join(foreign)}. Nothing was deactivated.",
        )
        return redirect(_url("codes", contract))
    if "confirm" not in request.POST:
        return _page(request, contract, "codes", "codes_deactivate.html", texts=texts)
    try:
        result = codes_deactivate(texts)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_url("codes", contract))
    fresh = " The contract is capped: fresh codes replace them." if contract.max_learners else ""
    messages.success(
        request,
        f"Deactivated {result.deactivated} code{'s' if result.deactivated != 1 else ''}: "
        f"{', '.join(result.outcomes)}.{fresh}",
    )
    return redirect(_url("codes", contract, status="deactivated"))


# -- learners ------------------------------------------------------------------------------------


class AttachForm(forms.Form):
    email = forms.EmailField(label="Learner's email address")


def _learners(contract: ContractPage) -> list[dict[str, Any]]:
    rows = learners_list(contract.pk)
    enrollments: dict[str, list[dict[str, Any]]] = {}
    for email, run, active, status in (
        CourseRunEnrollment.objects.filter(
            run__b2b_contract=contract, user__contract_memberships__contract=contract
        )
        .order_by("run__courseware_id")
        .values_list("user__email", "run__courseware_id", "active", "edx_status")
    ):
        enrollments.setdefault(email, []).append(
            {"run": run, "active": active, "edx_status": status}
        )
    for row in rows:
        row["since"] = dt.datetime.fromisoformat(row["since"])
        row["enrollments"] = enrollments.get(row["email"], [])
    return rows


@staff_required
def learners(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """The attached learners (source, since, enrollments in the contract's runs); attach by
    email (source manual, the cap enforced), detach."""
    form = AttachForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user = get_user_model().objects.filter(email__iexact=email).order_by("pk").first()
        if user is None:
            form.add_error(
                "email",
                f"No account with the email {email}: the learner signs up first, then you "
                "attach them.",
            )
        else:
            try:
                result = membership_add(
                    user, contract_id=contract.pk, source="manual", actor=actor_current()
                )
            except DomainError as exc:
                form.add_error("email", exc.message)
            else:
                if result.created:
                    messages.success(request, f"{email} is attached to {contract.name}.")
                else:
                    messages.warning(request, f"{email} was already attached: nothing changed.")
                return redirect(_url("learners", contract))
    facts = contract_overview(contract)
    return _page(
        request,
        contract,
        "learners",
        "learners.html",
        form=form,
        rows=_learners(contract),
        overview=facts,
        csv_url=_url("learners_csv", contract),
        detach_url=_url("learner_detach", contract),
    )


@staff_required
def learner_detach(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """POST ``email``: confirm page; with ``confirm``: detach (enrollments stay)."""
    if request.method != "POST":
        return redirect(_url("learners", contract))
    email = (request.POST.get("email") or "").strip()
    membership = (
        ContractMembership.objects.filter(contract=contract, user__email__iexact=email)
        .select_related("user")
        .first()
    )
    if membership is None:
        messages.error(request, f"{email or 'That learner'} is not attached to this contract.")
        return redirect(_url("learners", contract))
    if "confirm" not in request.POST:
        return _page(request, contract, "learners", "learner_detach.html", membership=membership)
    try:
        membership_remove(membership.user, contract_id=contract.pk, actor=actor_current())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{membership.user.email} is detached from {contract.name}; their enrollments stay.",
        )
    return redirect(_url("learners", contract))


@staff_required
def learners_csv(request: HttpRequest, contract: ContractPage) -> StreamingHttpResponse:
    """The attached learners as CSV: email, name, source, since (ISO 8601), runs enrolled."""

    class Lines:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> None:
            self.text += text

    def lines():  # type: ignore[no-untyped-def]
        out = Lines()
        writer = csv_writer(out)  # type: ignore[arg-type]
        writer.writerow(("Email", "Name", "Source", "Since", "Enrolled runs"))
        for row in _learners(contract):
            writer.writerow(
                (
                    row["email"],
                    row["name"],
                    row["source"],
                    row["since"].isoformat(),
                    " ".join(e["run"] for e in row["enrollments"] if e["active"]),
                )
            )
            yield out.text.encode()
            out.text = ""
        yield out.text.encode()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="learners-{contract.pk}.csv"'
    return response


# -- history -------------------------------------------------------------------------------------


@staff_required
def history(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """The contract's audit trail, newest first: when, who, through what, what changed."""
    entries = [
        {
            "at": entry.at,
            "actor": entry.who,
            "via": via_label(entry.via),
            "action": AUDIT_ACTIONS.get(entry.action, entry.action),
            "changes": changes_text(entry.changes),
        }
        for entry in reversed(audit_history(contract.pk))
    ]
    return _page(request, contract, "history", "history.html", entries=entries)


def urlpatterns_for_admin() -> list[Any]:
    """The URLs, mounted under ``/cms/b2b/contracts/`` by ``register_admin_urls``."""
    return [
        path("<int:contract_id>/", overview, name="overview"),
        path("<int:contract_id>/edx-retry/", edx_retry, name="edx_retry"),
        path("<int:contract_id>/courseware/", courseware, name="courseware"),
        path("<int:contract_id>/courseware/plan/", courseware_plan, name="courseware_plan"),
        path("<int:contract_id>/codes/", codes, name="codes"),
        path("<int:contract_id>/codes.csv", codes_csv, name="codes_csv"),
        path("<int:contract_id>/codes/deactivate/", codes_deactivate_view, name="codes_deactivate"),
        path("<int:contract_id>/learners/", learners, name="learners"),
        path("<int:contract_id>/learners/detach/", learner_detach, name="learner_detach"),
        path("<int:contract_id>/learners.csv", learners_csv, name="learners_csv"),
        path("<int:contract_id>/history/", history, name="history"),
    ]
