"""The learner's dashboard: the course runs they are enrolled in (SPEC §5: after checkout the
learner lands here and finds the course). ``?order=<id>`` adds a note about that order."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from courses.services import enrollments_list
from ecommerce.models import Order


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    order = None
    order_id = request.GET.get("order", "")
    if order_id.isdigit():
        order = (
            Order.objects.filter(pk=int(order_id), purchaser=request.user)
            .prefetch_related("lines__product__course_run")
            .first()
        )
    return render(
        request,
        "b2b/dashboard.html",
        {"enrollments": enrollments_list(request.user), "order": order},
    )
