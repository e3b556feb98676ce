"""The cart's and checkout's refusals (SPEC §5). Each ``code`` is stable: the cart pages and the
JSON API show the same one, and scripts may rely on it.

The refusals about contracts and enrollments (``contract-inactive``, ``contract-full``,
``already-enrolled``) live with their apps (``b2b.exceptions``, ``courses.exceptions``).
"""

from main.exceptions import ConflictError, NotFoundError, ValidationFailed


class CodeRequired(ValidationFailed):
    """A contract product without a code, by a learner who needs one."""

    code = "code-required"


class InvalidCode(ValidationFailed):
    """No code with that text."""

    code = "invalid-code"


class CodeNotForProduct(ValidationFailed):
    """A real code, but for another product than the one in the basket."""

    code = "code-not-for-product"


class CodeUsed(ConflictError):
    """A one-time code already redeemed (or held by an order waiting for its payment)."""

    code = "code-used"


class CodeDeactivated(ConflictError):
    """A code taken out of use by an operator or by the code adjustment."""

    code = "code-deactivated"


class CodeExpired(ConflictError):
    """A code outside its activation and expiration dates (contract codes say contract-inactive)."""

    code = "code-expired"


class PaymentsNotConfigured(ConflictError):
    """A priced checkout while no payment gateway is configured; nothing is consumed."""

    code = "payments-not-configured"


class BasketEmpty(ConflictError):
    code = "basket-empty"


class ProductNotFound(NotFoundError):
    code = "product-not-found"


class ProductUnavailable(ConflictError):
    """A product taken off sale (its run left its contract)."""

    code = "product-unavailable"


class OrderNotFound(NotFoundError):
    code = "order-not-found"


class InvalidPaymentResponse(ValidationFailed):
    """A payment callback that is unsigned, wrongly signed, or names no order of ours."""

    code = "invalid-payment-response"
