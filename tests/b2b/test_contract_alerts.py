"""Seat and end-date alerts (SPEC §9): mailed once per rule to the managers who want them and to
the staff addresses, whatever the number of beat runs; an organization can opt out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from b2b.models import ContractMembership, OrganizationManager
from b2b.services.alerts import alerts_due, contract_alerts_send
from b2b.services.assignments import seats_assign
from b2b.tasks import contract_alerts
from main.models import OutgoingMail
from tests.b2b.helpers import new_contract
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(wagtail_site, settings):
    settings.B2B_ALERT_EMAILS = ["ops@learn.example.edu"]
    contract = new_contract("UX 2026", max_learners=4)
    OrganizationManager.objects.create(organization=contract.organization, email="boss@ux.edu")
    OrganizationManager.objects.create(
        organization=contract.organization, email="quiet@ux.edu", alerts=False
    )
    return contract


def attach(contract, n):
    for _ in range(n):
        ContractMembership.objects.create(user=UserFactory(), contract=contract, source="manual")


def alerts():
    return sorted(
        OutgoingMail.objects.filter(key__startswith="alert:").values_list("to", "subject")
    )


def test_each_seat_threshold_mails_once(contract):
    attach(contract, 2)
    assert contract_alerts_send() == 0
    attach(contract, 1)
    assert contract_alerts_send() == 2
    assert contract_alerts_send() == 0
    assert contract_alerts() == 0
    assert alerts() == [
        ("boss@ux.edu", "UX 2026: 75 % of its seats are taken"),
        ("ops@learn.example.edu", "UX 2026: 75 % of its seats are taken"),
    ]
    # An assignment takes the last seat: 100 % (the 90 % mail is skipped, never sent late).
    seats_assign(contract.pk, [("x@y.org", "")], apply=True)
    assert contract_alerts_send() == 2
    assert [s for _, s in alerts()].count("UX 2026: 100 % of its seats are taken") == 2
    ContractMembership.objects.filter(contract=contract).first().delete()
    assert contract_alerts_send() == 0
    body = OutgoingMail.objects.get(to="boss@ux.edu", subject__contains="100 %").body_text
    assert "has 4 of its 4 seats taken" in body
    assert f"/manage/contracts/{contract.pk}/" in body


def test_end_date_alerts_thirty_then_seven_days_before(contract):
    today = timezone.localdate()
    contract.contract_end = today + dt.timedelta(days=20)
    contract.save()
    assert contract_alerts_send() == 2
    assert contract_alerts_send() == 0
    contract.contract_end = today + dt.timedelta(days=7)
    contract.save()
    assert contract_alerts_send() == 2
    assert sorted({s for _, s in alerts()}) == [
        "UX 2026 ends in 30 days or less",
        "UX 2026 ends in 7 days or less",
    ]


def test_an_organization_can_opt_out(contract):
    organization = contract.organization
    organization.seat_alerts = False
    organization.save()
    attach(contract, 4)
    assert contract_alerts_send() == 0
    assert alerts() == []


def test_the_rules_due():
    facts = type("F", (), {})()
    today = dt.date(2026, 6, 1)

    class Seats:
        taken = 9

    facts.max_learners = 10
    facts.seats = Seats()
    facts.contract_end = dt.date(2026, 6, 9)
    assert alerts_due(facts, today) == ["seats-75", "seats-90", "ends-30"]
    facts.contract_end = dt.date(2026, 6, 8)
    assert alerts_due(facts, today) == ["seats-75", "seats-90", "ends-30", "ends-7"]
    facts.contract_end = dt.date(2026, 5, 31)
    assert alerts_due(facts, today) == ["seats-75", "seats-90"]
    facts.max_learners = None
    assert alerts_due(facts, today) == []
