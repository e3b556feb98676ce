"""The safe repairs ``b2b_check --fix`` carries out (SPEC §2, §4, §8)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from b2b.services.check.findings import CheckResult, Repair
from b2b.services.codes import codes_adjust_and_record, codes_deactivate_for_products
from courses.models import CourseRun
from ecommerce.models import Product
from openedx.api import course_run_edx_queue


def repairs_plan(result: CheckResult) -> list[Repair]:
    """The safe repairs the findings call for, each once: products of removed runs first, then
    code adjustments, then Open edX syncs."""
    seen: dict[tuple[str, int], Repair] = {}
    for finding in result.findings:
        if finding.repair is not None:
            seen.setdefault((finding.repair.action, finding.repair.target), finding.repair)
    order = {"deactivate": 0, "codes": 1, "edx": 2}
    return sorted(seen.values(), key=lambda r: (order[r.action], r.target))


def repairs_apply(repairs: list[Repair]) -> list[str]:
    """Carry out the repairs; returns one line per repair done. Deletes nothing but what the code
    adjustment deletes by its own rule (unredeemed codes of free uncapped SSO contracts)."""
    done = []
    deactivate = [r.target for r in repairs if r.action == "deactivate"]
    if deactivate:
        with transaction.atomic():
            Product.objects.filter(pk__in=deactivate, is_active=True).update(
                is_active=False, updated_on=timezone.now()
            )
            codes = codes_deactivate_for_products(deactivate)
        done.append(f"Deactivated {len(deactivate)} product(s) and {codes} usable code(s).")
    for repair in repairs:
        if repair.action == "codes":
            # The adjustment task's body, here in the command's process.
            done.append(codes_adjust_and_record(repair.target).summary())
    edx = [r.target for r in repairs if r.action == "edx"]
    for run in CourseRun.objects.filter(pk__in=edx).order_by("pk"):
        with transaction.atomic():
            status = course_run_edx_queue(run)
        done.append(f"Open edX sync of {run.courseware_id}: {status}.")
    return done
