"""``manage.py b2b_demo``: run the source document's two walkthroughs with the real commands.

``make demo`` runs it on a fresh database after ``configure_wagtail`` and ``load_catalog``. Each
step prints the command line an operator would type, then that command's own output.
"""

from __future__ import annotations

import io
import shlex
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from b2b.services.edx_sync import contracts_edx_summary
from b2b.services.staff import staff_member_ensure
from courses.models import Course, Program
from main.accounts import account_email_record
from main.mail import mail_destination
from openedx.api import edx_configured

SSO_COURSE = "course-v1:MITxT+14.310x"
SSO_PROGRAM = "program-v1:MITx+DEDP"
TYPICAL_COURSE = "course-v1:MITxT+14.100x"
#: The demo learner's login, printed at the end (a demo database only: ``make demo`` flushes).
DEMO_LEARNER = "learner"
DEMO_PASSWORD = "learn-with-a-code"

# The demo's staff login (a member of "B2B staff", not a superuser) and learners to provision.
STAFF_USERNAME = "staff"
STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = "b2b-staff-demo"
MANAGER_USERNAME = "manager"
MANAGER_EMAIL = "manager@universityx.example.edu"
MANAGER_PASSWORD = "manage-universityx"
ASSIGNED_EMAILS = (
    "amara.new@universityx.example.edu",
    "bao.new@universityx.example.edu",
    "carmen.new@universityx.example.edu",
)
DEMO_LEARNERS = (("ada", "Ada Lovelace"), ("grace", "Grace Hopper"), ("alan", "Alan Turing"))


class Command(BaseCommand):
    help = (
        "Run both walkthroughs of the source document (an uncapped SSO contract with a course and "
        "a program; a typical capped non-SSO contract with its codes CSV) on the loaded catalog."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="Print only the step lines, not each command's output.",
        )

    def handle(self, *args: Any, quiet: bool = False, **options: Any) -> None:
        self.quiet = quiet
        missing = [
            readable_id
            for readable_id, model in (
                (SSO_COURSE, Course),
                (TYPICAL_COURSE, Course),
                (SSO_PROGRAM, Program),
            )
            if not model.objects.filter(readable_id=readable_id).exists()
        ]
        if missing:
            raise CommandError(
                f"The catalog is not loaded ({', '.join(missing)} missing): run "
                "`manage.py load_catalog` first, or `make demo`, which does everything."
            )

        self.heading("Walkthrough 1: UAI contracts with SSO integration")
        sso_id = self.create_contract(
            "University X",
            "University X SSO Contract",
            "sso",
            "--description",
            "Test uncapped SSO contract",
            "--create",
            "--org-key",
            "UX",
        )
        self.step("b2b_list", "organizations")
        self.step("b2b_list", "contracts")
        self.step("b2b_courseware", "add", str(sso_id), SSO_COURSE)
        self.step("b2b_courseware", "add", str(sso_id), SSO_PROGRAM)
        self.step("b2b_list", "courseware", "--contract", str(sso_id))

        self.heading("Walkthrough 2: a typical B2B contract (capped, non-SSO, enrollment codes)")
        typical_id = self.create_contract(
            "UniversityX",
            "UniversityX Contract",
            "non-sso",
            "--max-learners",
            "200",
            "--description",
            "Test capped non-SSO contract",
            "--create",
            "--org-key",
            "UniversityX",
        )
        self.step("b2b_list", "organizations")
        self.step("b2b_list", "contracts")
        self.step("b2b_courseware", "add", str(typical_id), TYPICAL_COURSE)
        self.step("b2b_list", "courseware", "--contract", str(typical_id))
        self.step("b2b_list", "contracts", "--codes", str(typical_id))

        self.staff_surfaces(typical_id)
        self.managers(typical_id)

        self.heading("Done")
        self.stdout.write(
            f"SSO contract: ID {sso_id}. Typical contract: ID {typical_id}; its 200 enrollment "
            f"codes are in codes-{typical_id}.csv (each row has the Product URL to hand out)."
        )
        self.try_it(typical_id)
        if edx_configured():
            self.stdout.write(contracts_edx_summary([sso_id, typical_id]))

    def try_it(self, contract_id: int) -> None:
        """Make the demo learner and print what a learner needs to get in with a code."""
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from b2b.services.codes import product_url
        from ecommerce.models import Discount, Product

        product = Product.objects.get(course_run__b2b_contract_id=contract_id, is_active=True)
        code = (
            Discount.objects.filter(product_links__product=product)
            .usable()
            .exclude(assignment_holds__assignment__status="open")  # held for an assignee
            .order_by("pk")
            .values_list("discount_code", flat=True)
            .first()
        )
        user_model = get_user_model()
        learner = user_model.objects.filter(username=DEMO_LEARNER).first() or user_model(
            username=DEMO_LEARNER, email=f"{DEMO_LEARNER}@example.edu", name="Demo Learner"
        )
        learner.set_password(DEMO_PASSWORD)
        learner.save()
        # The demo learner's address counts as confirmed, so its login needs no confirmation mail.
        account_email_record(learner, learner.email, verified=True)
        base = settings.SITE_BASE_URL
        self.heading("Try it as a learner (run `make run`)")
        self.stdout.write(
            f"New learner: sign up at {base}/signup/, open the confirmation link of the mail, "
            "then join with the code below and enroll from My courses (no other code needed)."
        )
        self.stdout.write(f"Join link: {base}/join/{code}/ (or type the code at {base}/join/)")
        self.stdout.write(f"Enrollment code: {code}")
        self.stdout.write(f"Learner login: {DEMO_LEARNER} / {DEMO_PASSWORD}")
        self.stdout.write(
            f"Product URL (the course link, with the same code): {product_url(product.pk)}"
        )
        self.stdout.write(f"Sent mail: {mail_destination()}")

    def staff_surfaces(self, typical_id: int) -> None:
        """A staff login and a few learners, and where to use them."""
        from django.conf import settings
        from django.contrib.auth import get_user_model

        staff = staff_member_ensure(
            username=STAFF_USERNAME, email=STAFF_EMAIL, password=STAFF_PASSWORD, name="B2B Staff"
        )
        # Its address is the demo's own: verified, so /login/ takes the staff member straight in.
        account_email_record(staff, STAFF_EMAIL, verified=True)
        users = get_user_model().objects
        for username, name in DEMO_LEARNERS:
            learner, created = users.get_or_create(
                username=username, defaults={"email": f"{username}@example.edu", "name": name}
            )
            if created:
                learner.set_unusable_password()
                learner.save(update_fields=["password"])
        base = settings.SITE_BASE_URL
        self.heading("Staff surfaces (start the site with `make run`)")
        self.stdout.write(
            f"Staff login: {STAFF_USERNAME} / {STAFF_PASSWORD} "
            "(group “B2B staff”, not a superuser)\n"
            f"Wagtail admin: {base}/cms/ — Pages → Organizations: organizations and contracts "
            "(basics, learner provisioning, availability)\n"
            f"A contract's own pages: {base}{reverse('b2b_contract:overview', args=[typical_id])}"
            " — overview, courseware (add a course), enrollment codes (CSV, deactivate), "
            "learners (attach by email: "
            f"{', '.join(f'{u}@example.edu' for u, _ in DEMO_LEARNERS)}), history\n"
            f"Django Admin:  {base}/admin/ — B2b → Contracts (read-only, "
            f"{base}/admin/b2b/contractpage/{typical_id}/change/), Users → a learner "
            f"({', '.join(u for u, _ in DEMO_LEARNERS)}) → “add a contract membership”"
        )

    def managers(self, typical_id: int) -> None:
        """Walkthrough 3: a manager for UniversityX, three seats assigned by email."""
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from b2b.models import ContractPage

        organization_id = ContractPage.objects.get(pk=typical_id).organization_id
        user_model = get_user_model()
        manager = user_model.objects.filter(username=MANAGER_USERNAME).first() or user_model(
            username=MANAGER_USERNAME, email=MANAGER_EMAIL, name="Morgan Manager"
        )
        manager.set_password(MANAGER_PASSWORD)
        manager.save()
        account_email_record(manager, manager.email, verified=True)
        self.heading("Walkthrough 3: the organization's managers and seats assigned by email")
        self.step("b2b_organization", "managers", "add", str(organization_id), MANAGER_EMAIL)
        self.step("b2b_seats", "assign", str(typical_id), *ASSIGNED_EMAILS)
        self.step("b2b_seats", "list", str(typical_id))
        base = settings.SITE_BASE_URL
        self.stdout.write(
            f"Manager login: {MANAGER_USERNAME} / {MANAGER_PASSWORD} — the managers' portal: "
            f"{base}/manage/ (the contract's seats, learners, codes; assign seats by email)\n"
            f"Invitations to {', '.join(ASSIGNED_EMAILS)}: {mail_destination()}"
        )

    # -- helpers -----------------------------------------------------------------------------

    def heading(self, text: str) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(f"== {text}"))

    def step(self, *argv: str) -> str:
        """Print the command line, run it, print its stdout and stderr; return its stdout."""
        self.stdout.write(self.style.SQL_KEYWORD(f"$ manage.py {shlex.join(argv)}"))
        out, err = io.StringIO(), io.StringIO()
        call_command(*argv, stdout=out, stderr=err)
        if not self.quiet:
            self.stdout.write(out.getvalue(), ending="")
            self.stdout.write(err.getvalue(), ending="")
        return out.getvalue()

    def create_contract(self, *argv: str) -> int:
        """``b2b_contract create`` prints the new contract's ID alone on stdout."""
        return int(self.step("b2b_contract", "create", *argv).strip())
