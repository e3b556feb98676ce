"""The learner's pages: *My courses* and joining a contract with a code (SPEC §5, widened).

``/dashboard/`` (*My courses*) shows one card per course run (``b2b.services.my_courses``);
``?order=<id>`` adds a note about that order. ``/dashboard/enroll/<run id>/`` is its Enroll
button. ``/join/`` (a form) and ``/join/<code>/`` (a link, which asks before spending the code)
attach the learner to the code's contract (``contract_join``) and land them on it on My courses.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from b2b.services.enrollments import enrollment_request
from b2b.services.managers import managed_organizations
from b2b.services.my_courses import contract_url, my_courses
from b2b.services.redemption import JoinResult, contract_join
from courses.models import CourseRun
from ecommerce.models import Order
from ecommerce.services.discounts import MAX_CODE_LENGTH
from ecommerce.throttles import code_attempt_check
from ecommerce.views import ORDER_PARAM_MESSAGE
from main.api import refusal_headers, refusal_status
from main.exceptions import DomainError
from main.http import AuthenticatedHttpRequest
from main.params import id_param


@require_GET
@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My courses; ``?order=<id>`` adds a note about that order of theirs. A malformed
    ``order`` is refused: the page with the reason, 400."""
    order = None
    status = 200
    try:
        order_id = id_param(request.GET, "order", message=ORDER_PARAM_MESSAGE)
    except DomainError as refusal:
        messages.error(request, refusal.message, extra_tags=refusal.code)
        order_id, status = None, refusal_status(refusal)
    if order_id is not None:
        order = (
            Order.objects.filter(pk=order_id, purchaser=request.user)
            .prefetch_related("lines__product__course_run")
            .first()
        )
    return render(
        request,
        "b2b/dashboard.html",
        {
            "courses": my_courses(request.user),
            "order": order,
            "manages": managed_organizations(request.user).exists(),
        },
        status=status,
    )


@require_POST
@login_required
def dashboard_enroll(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    """My courses' Enroll button for a run of a free contract the learner is attached to:
    enrolls through the contract rules (``contract_enroll``, SPEC §5); a refusal is shown on My
    courses. Lands on the run's contract."""
    run = get_object_or_404(CourseRun.objects.select_related("course"), pk=run_id, is_b2b=True)
    try:
        enrollment_request(request.user, run=run)
    except DomainError as exc:
        messages.error(request, exc.message, extra_tags=exc.code or "")
    else:
        messages.success(request, f"You are enrolled in {run.title}.", extra_tags="enrolled")
    if run.b2b_contract_id is None:
        return HttpResponseRedirect(reverse("dashboard"))
    return HttpResponseRedirect(contract_url(run.b2b_contract_id))


def join_message(result: JoinResult) -> str:
    """What the learner is told once a code was accepted."""
    where = f"{result.contract.organization_name}’s “{result.contract.name}”"
    if result.joined:
        return f"Welcome: you joined {where}. Enroll in its courses below, no other code needed."
    return f"You are already a member of {where}: your code stays unused. Enroll below."


def _join_page(
    request: HttpRequest,
    *,
    code: str = "",
    error: DomainError | None = None,
    from_link: bool = False,
    status: int = 200,
) -> HttpResponse:
    response = render(
        request,
        "b2b/join.html",
        {"code_value": code[:200], "code_error": error, "from_link": from_link},
        status=status,
    )
    if error is not None:
        for name, value in refusal_headers(error).items():
            response[name] = value
    return response


@require_http_methods(["GET", "POST"])
@login_required
def join(request: AuthenticatedHttpRequest, code: str = "") -> HttpResponse:
    """``GET /join/``: the form; ``GET /join/<code>/``: the same form with the code filled in
    (opening a link spends nothing). ``POST``: join (``contract_join``; the code throttle applies,
    as in the cart): accepted, lands on the contract on My courses; refused, the form again with
    the reason next to the field, at the refusal's 4xx status."""
    if request.method == "GET":
        return _join_page(request, code=code[: MAX_CODE_LENGTH + 1], from_link=bool(code))
    typed = request.POST.get("code", "")
    try:
        code_attempt_check(request)
        result = contract_join(request.user, code=typed)
    except DomainError as refusal:
        return _join_page(request, code=typed, error=refusal, status=refusal_status(refusal))
    messages.success(
        request, join_message(result), extra_tags="joined" if result.joined else "already-attached"
    )
    return HttpResponseRedirect(contract_url(result.contract.id))
