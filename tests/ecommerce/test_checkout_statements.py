"""What one checkout costs the database (issue: twice the checkouts on the same two cores): the
statements of a zero-total checkout of a capped contract product, pinned so they cannot creep
back. ``make bench-checkout`` prints the time they take."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ecommerce.models import Order
from ecommerce.services.basket import basket_code_apply, basket_replace
from ecommerce.services.checkout import basket_checkout

# PostgreSQL: the basket (locked, with the learner's enrollment in the product's run), its code
# (locked in the same statement), the order, its line, the basket emptied with the learner's
# pending orders of the product ended (one statement), the receipt's mail, the code's use, the
# redemption, the enrollment, the contract lock, the contract's facts, and the membership with
# its audit entry (one statement). SQLite takes two statements to empty the basket, one to find
# the pending orders, and two for the membership and its entry.
STATEMENTS = {"postgresql": 12, "sqlite": 15}


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements sent, without the test's savepoints and the COMMIT (none in a test)."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_a_zero_total_capped_checkout_is_twelve_statements(make_offer, learner):
    offer = make_offer("Capped", "non-sso", max_learners=5)
    basket_replace(learner, product_id=offer.product.pk)
    basket_code_apply(learner, code=offer.codes[0])

    with CaptureQueriesContext(connection) as captured:
        result = basket_checkout(learner)

    assert result.order.state == Order.State.FULFILLED
    statements = _statements(captured)
    assert len(statements) == STATEMENTS[connection.vendor], "\n".join(statements)
    locks = [s for s in statements if "FOR UPDATE" in s]
    if connection.vendor == "postgresql":
        assert [lock[lock.index("FOR UPDATE") :] for lock in locks] == [
            'FOR UPDATE OF "ecommerce_basket", "ecommerce_basketitem"',
            'FOR UPDATE OF "ecommerce_discount"',
            'FOR UPDATE OF "b2b_contractpage"',
        ]
    # the contract's facts never touch Wagtail's page table
    assert not [s for s in statements if "wagtailcore_page" in s and "pagelogentry" not in s]
