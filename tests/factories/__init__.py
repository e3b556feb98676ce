"""factory-boy factories with deterministic defaults, and bulk builders for large sizes.

Everything is built directly in the database: no management command, no argparse. Tests of the
commands call the commands; everything else builds its "given" here.
"""

from tests.factories.accounts import UserFactory, users_bulk
from tests.factories.b2b import (
    ContractFactory,
    ContractRunFactory,
    MembershipFactory,
    OrganizationFactory,
    SourcedCourseFactory,
    contract_program,
    contract_runs,
    memberships_bulk,
)
from tests.factories.courses import (
    CourseFactory,
    CourseRunFactory,
    course_with_source,
    program_with,
    source_run,
)
from tests.factories.ecommerce import (
    EnrollmentCodeFactory,
    OrderFactory,
    ProductFactory,
    RedemptionFactory,
    codes_by_the_rule,
    enrollment_codes,
    run_product,
)

__all__ = [
    "ContractFactory",
    "ContractRunFactory",
    "CourseFactory",
    "CourseRunFactory",
    "EnrollmentCodeFactory",
    "MembershipFactory",
    "OrderFactory",
    "OrganizationFactory",
    "ProductFactory",
    "RedemptionFactory",
    "SourcedCourseFactory",
    "UserFactory",
    "codes_by_the_rule",
    "contract_program",
    "contract_runs",
    "course_with_source",
    "enrollment_codes",
    "memberships_bulk",
    "program_with",
    "run_product",
    "source_run",
    "users_bulk",
]
