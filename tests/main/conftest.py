from tests.shop import learner, make_offer, payments  # noqa: F401  (fixtures)
