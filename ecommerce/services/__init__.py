"""Ecommerce services: products (here), the basket, checkout and payments (their modules)."""

from __future__ import annotations

from decimal import Decimal

from courses.models import CourseRun
from ecommerce.models import Product


def product_for_run_ensure(run: CourseRun, *, price: Decimal, description: str) -> Product:
    """The run's one active product at ``price``: reactivated or created as needed.

    A run's latest product is reused (reactivated and re-priced) so a run that returns to sale
    keeps its product ID and its product URL.
    """
    product = Product.objects.filter(course_run=run, is_active=True).first()
    if product is None:
        product = Product.objects.filter(course_run=run).order_by("-pk").first()
    if product is None:
        return Product.objects.create(
            course_run=run, price=price, description=description, is_active=True
        )
    changed = {
        name: value
        for name, value in (("price", price), ("description", description), ("is_active", True))
        if getattr(product, name) != value
    }
    if changed:
        for name, value in changed.items():
            setattr(product, name, value)
        product.save(update_fields=[*changed, "updated_on"])
    return product


def products_deactivate(runs: list[CourseRun]) -> list[int]:
    """Take the runs' products off sale; returns the IDs of the products deactivated."""
    ids = list(
        Product.objects.filter(course_run__in=runs, is_active=True).values_list("pk", flat=True)
    )
    Product.objects.filter(pk__in=ids).update(is_active=False)
    return ids
