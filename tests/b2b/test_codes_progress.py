"""The adjustment in the foreground (eager Celery, a command from a terminal): rich progress and
the outcome on stderr, nothing extra on stdout (``--format json`` stays one document)."""

import io
import json

import pytest
from django.core.management import call_command

from tests.b2b.codes_helpers import DATA
from tests.b2b.helpers import new_contract
from tests.factories import ContractRunFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as an operator's stderr is."""

    def isatty(self) -> bool:
        return True


def test_progress_bars_on_a_terminal_and_json_untouched(wagtail_site, catalog):
    contract = new_contract("Progress", max_learners=30)
    out, err = io.StringIO(), Terminal()
    call_command(
        "b2b_courseware", "add", str(contract.pk), DATA, "--format", "json", stdout=out, stderr=err
    )
    document = json.loads(out.getvalue())
    assert (document["changed"], document["action"]) == (True, "add")
    assert f"Contract {contract.pk}: Creating codes" in err.getvalue()
    assert "30/30" in err.getvalue()
    assert (
        err.getvalue()
        .rstrip()
        .endswith(
            f"Enrollment codes adjusted for contract {contract.pk}: 30 codes created, "
            "0 deactivated, 0 made unlimited, 0 deleted, 0 re-priced/re-dated, "
            "0 products re-priced; 30 usable."
        )
    )


def test_no_progress_bars_when_stderr_is_not_a_terminal(wagtail_site, catalog):
    contract = new_contract("Progress", max_learners=30)
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "b2b_contract", "modify", str(contract.pk), "--max-learners", "10", stdout=out, stderr=err
    )
    assert err.getvalue() == (
        f"Enrollment codes adjusted for contract {contract.pk}: 0 codes created, 20 deactivated, "
        "0 made unlimited, 0 deleted, 0 re-priced/re-dated, 0 products re-priced; 10 usable.\n"
    )
    assert out.getvalue().splitlines()[0].strip() == f"Changed contract {contract.pk}"
