"""The learner's dashboard: the course runs they are enrolled in (SPEC §5: after checkout the
learner lands here and finds the course). ``?order=<id>`` adds a note about that order."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from b2b.services.enrollments import enrollment_request
from b2b.services.memberships import learner_contracts
from courses.models import CourseRun
from courses.services import enrollments_list
from ecommerce.models import Order
from ecommerce.views import ORDER_PARAM_MESSAGE
from main.api import refusal_status
from main.exceptions import DomainError
from main.params import id_param


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The learner's enrollments and contracts; ``?order=<id>`` adds a note about that order of
    theirs. A malformed ``order`` is refused: the dashboard with the reason, 400."""
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
            "enrollments": enrollments_list(request.user),
            "order": order,
            "contracts": learner_contracts(request.user),
        },
        status=status,
    )


@require_POST
@login_required
def dashboard_enroll(request: HttpRequest, run_id: int) -> HttpResponse:
    """The dashboard's Enroll button for a run of a free SSO contract: enrolls through the same
    service as checkout (``contract_enroll``, SPEC §5); a refusal is shown on the dashboard."""
    run = get_object_or_404(CourseRun.objects.select_related("course"), pk=run_id, is_b2b=True)
    try:
        enrollment_request(request.user, run=run)
    except DomainError as exc:
        messages.error(request, exc.message, extra_tags=exc.code or "")
    else:
        messages.success(request, f"You are enrolled in {run.title}.", extra_tags="enrolled")
    return HttpResponseRedirect(reverse("dashboard"))
