"""An organization's SSO ID: ``b2b_contract create --sso-id``, ``b2b_organization modify`` and
``b2b_list organizations`` (issue 7, SPEC §1, §2, §6)."""

import json
import uuid

import pytest
from django.core.management.base import CommandError
from wagtail.models import PageLogEntry

from b2b.models import ContractPage, OrganizationPage
from tests.b2b.operator import manage
from tests.factories import ContractFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

ACME = "0b6a7c3e-58e4-4c59-a1f0-8f1b3b7b6a42"
OTHER = "5f0e1d2c-3b4a-4958-8776-655443322110"


def acme_with_a_contract(**fields) -> OrganizationPage:
    """Organization Acme (org key ACME) with an SSO contract "C", built by the factories."""
    acme = OrganizationFactory(name="Acme", org_key="ACME", **fields)
    ContractFactory(organization=acme, name="C", sso=True)
    return acme


def test_create_with_sso_id_sets_it_and_lists_it(wagtail_site, run_command):
    out = run_command(
        "b2b_contract",
        "create",
        "Acme",
        "Acme SSO",
        "sso",
        "--create",
        "--org-key",
        "ACME",
        "--sso-id",
        ACME.upper(),
    )
    org = OrganizationPage.objects.get()
    assert org.sso_organization_id == uuid.UUID(ACME)
    assert out.stderr.splitlines()[0] == (
        f"Created organization 'Acme' (ID {org.pk}, org key ACME, SSO ID {ACME})."
    )
    listed = run_command("b2b_list", "organizations", "--format", "json").stdout
    assert json.loads(listed) == [
        {
            "id": org.pk,
            "name": "Acme",
            "org_key": "ACME",
            "slug": "acme",
            "sso_organization_id": ACME,
            "contracts": 1,
        }
    ]


@pytest.mark.parametrize(
    "value", ["not-a-uuid", "0b6a7c3e58e44c59a1f08f1b3b7b6a42", "{" + ACME + "}", ""]
)
def test_create_refuses_a_malformed_sso_id(wagtail_site, run_command, unchanged, value):
    with unchanged(), pytest.raises(CommandError) as exc:
        run_command(
            "b2b_contract",
            "create",
            "Acme",
            "C",
            "sso",
            "--create",
            "--org-key",
            "ACME",
            "--sso-id",
            value,
        )
    assert str(exc.value) == (
        f"SSO organization ID {value!r} is not a UUID: copy the organization's ID from Keycloak, "
        "for example 0b6a7c3e-58e4-4c59-a1f0-8f1b3b7b6a42."
    )


def test_create_refuses_an_sso_id_already_used(wagtail_site, run_command, unchanged):
    acme = acme_with_a_contract(sso_organization_id=ACME)
    with unchanged(), pytest.raises(CommandError) as exc:
        run_command(
            "b2b_contract",
            "create",
            "Beta",
            "C",
            "sso",
            "--create",
            "--org-key",
            "BETA",
            "--sso-id",
            ACME,
        )
    assert str(exc.value) == (
        f"SSO organization ID {ACME} is already used by 'Acme' (ID {acme.pk})."
    )


def test_sso_id_without_create_is_refused(wagtail_site, run_command, unchanged):
    acme_with_a_contract()
    with unchanged(), pytest.raises(CommandError) as exc:
        run_command("b2b_contract", "create", "Acme", "D", "sso", "--sso-id", ACME)
    assert str(exc.value) == (
        "--sso-id only applies with --create (a new organization); to set an existing "
        "organization's SSO ID use `manage.py b2b_organization modify <org id> --sso-id UUID`."
    )


def test_create_for_an_existing_organization_with_another_sso_id_is_refused(
    wagtail_site, run_command, unchanged
):
    org = acme_with_a_contract(sso_organization_id=ACME)
    with unchanged(), pytest.raises(CommandError) as exc:
        run_command(
            "b2b_contract",
            "create",
            "Acme",
            "D",
            "sso",
            "--create",
            "--org-key",
            "ACME",
            "--sso-id",
            OTHER,
        )
    assert str(exc.value) == (
        f"Organization 'Acme' exists with SSO organization ID {ACME}, not {OTHER}: use "
        f"`manage.py b2b_organization modify {org.pk} --sso-id UUID` to change it."
    )
    # The same ID is fine: the existing organization is used.
    run_command(
        "b2b_contract",
        "create",
        "Acme",
        "D",
        "sso",
        "--create",
        "--org-key",
        "ACME",
        "--sso-id",
        ACME,
    )
    assert ContractPage.objects.count() == 2


@pytest.fixture
def acme(wagtail_site):
    return acme_with_a_contract()


def test_modify_sets_and_clears_the_sso_id_and_records_it(acme, run_command):
    out = run_command(
        "b2b_organization", "modify", str(acme.pk), "--sso-id", ACME, "--format", "json"
    )
    assert json.loads(out.stdout) == {
        "id": acme.pk,
        "name": "Acme",
        "org_key": "ACME",
        "slug": "acme",
        "sso_organization_id": ACME,
        "contracts": 1,
    }
    assert out.stderr == (
        f"Changed organization {acme.pk}: sso_organization_id: None → '{ACME}'.\n"
    )
    acme.refresh_from_db()
    assert acme.sso_organization_id == uuid.UUID(ACME)
    run_command("b2b_organization", "modify", str(acme.pk), "--no-sso-id")
    acme.refresh_from_db()
    assert acme.sso_organization_id is None
    entries = PageLogEntry.objects.filter(page=acme, action="b2b.organization.change")
    entries = entries.order_by("pk")
    assert [e.data["changes"] for e in entries] == [
        {"sso_organization_id": {"before": None, "after": ACME}},
        {"sso_organization_id": {"before": ACME, "after": None}},
    ]


def test_modify_name_and_description(acme, run_command):
    run_command(
        "b2b_organization",
        "modify",
        str(acme.pk),
        "--name",
        "Acme Corp",
        "--description",
        "Widgets",
    )
    acme.refresh_from_db()
    assert (acme.name, acme.title, acme.description, acme.slug) == (
        "Acme Corp",
        "Acme Corp",
        "Widgets",
        "acme",
    )
    assert acme.live_revision.as_object().name == "Acme Corp"


def test_modify_refuses_an_sso_id_of_another_organization(acme, run_command, unchanged):
    beta = OrganizationFactory(name="Beta", org_key="BETA", sso_organization_id=OTHER)
    ContractFactory(organization=beta, name="C", sso=True)
    with unchanged(), pytest.raises(CommandError) as exc:
        run_command("b2b_organization", "modify", str(acme.pk), "--sso-id", OTHER)
    assert str(exc.value) == (
        f"SSO organization ID {OTHER} is already used by 'Beta' (ID {beta.pk}): check the ID in "
        "Keycloak."
    )


def test_modify_refusals(acme, run_command, unchanged):
    with unchanged():
        with pytest.raises(CommandError) as exc:
            run_command("b2b_organization", "modify", str(acme.pk), "--sso-id", "12345")
        assert str(exc.value).startswith("SSO organization ID '12345' is not a UUID")
        with pytest.raises(CommandError) as exc:
            run_command("b2b_organization", "modify", str(acme.pk))
        assert str(exc.value) == (
            "Nothing to change: give --sso-id UUID, --no-sso-id, --name or --description."
        )
        with pytest.raises(CommandError) as exc:
            run_command("b2b_organization", "modify", "4242", "--no-sso-id")
        assert str(exc.value) == (
            "No organization with ID 4242: `manage.py b2b_list organizations` lists them."
        )
        for bad, message in (
            (
                "bad\x07bell\x1b[31mred",
                "The organization description contains a control character (such as an escape "
                "sequence): give plain text; line breaks and tabs are fine.",
            ),
            (
                "d" * 20_001,
                "The organization description is 20,001 characters long: keep it to 10,000.",
            ),
        ):
            with pytest.raises(CommandError) as exc:
                run_command("b2b_organization", "modify", str(acme.pk), "--description", bad)
            assert str(exc.value) == message


def test_modify_exit_codes(operator_env):
    result = manage(operator_env, "b2b_organization", "modify", "1", "--sso-id", "nope")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("CommandError: ")
    assert result.stderr.count("\n") == 1
    result = manage(
        operator_env, "b2b_organization", "modify", "1", "--sso-id", ACME, "--no-sso-id"
    )
    assert result.returncode == 2
