"""The contract's learners: the list with source, since and enrollments, CSV, attach by email and
detach."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from wagtail.admin import messages

from b2b.models import ContractMembership, ContractPage
from b2b.services.memberships import learners_list, membership_add, membership_remove
from b2b.services.overview import contract_overview
from b2b.staff_views.base import page_render, page_url, staff_required
from courses.models import CourseRunEnrollment
from main.actors import actor_current
from main.exceptions import DomainError
from main.exports import csv_writer


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
                return redirect(page_url("learners", contract))
    facts = contract_overview(contract)
    return page_render(
        request,
        contract,
        "learners",
        "learners.html",
        form=form,
        rows=_learners(contract),
        overview=facts,
        csv_url=page_url("learners_csv", contract),
        detach_url=page_url("learner_detach", contract),
    )


@staff_required
def learner_detach(request: HttpRequest, contract: ContractPage) -> HttpResponse:
    """POST ``email``: confirm page; with ``confirm``: detach (enrollments stay)."""
    if request.method != "POST":
        return redirect(page_url("learners", contract))
    email = (request.POST.get("email") or "").strip()
    membership = (
        ContractMembership.objects.filter(contract=contract, user__email__iexact=email)
        .select_related("user")
        .first()
    )
    if membership is None:
        messages.error(request, f"{email or 'That learner'} is not attached to this contract.")
        return redirect(page_url("learners", contract))
    if "confirm" not in request.POST:
        return page_render(
            request, contract, "learners", "learner_detach.html", membership=membership
        )
    try:
        membership_remove(membership.user, contract_id=contract.pk, actor=actor_current())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{membership.user.email} is detached from {contract.name}; their enrollments stay.",
        )
    return redirect(page_url("learners", contract))


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
