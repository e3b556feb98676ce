"""``main.rows.rows_insert``: new rows of any models in one statement on PostgreSQL, all or
nothing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from main.models import OutgoingMail, User
from main.rows import rows_insert


def _mail(to: str, key: str = "") -> OutgoingMail:
    return OutgoingMail(to=to, subject=f"To {to}", template="t", body_text="hi", key=key)


@pytest.mark.django_db
def test_rows_of_two_models_are_written_with_their_keys_and_defaults():
    user = User(username="ada", email="ada@example.com")
    mail = _mail("ada@example.com", key="welcome:ada")

    with CaptureQueriesContext(connection) as captured:
        rows_insert(user, mail)

    written = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(written) == (1 if connection.vendor == "postgresql" else 2)
    assert User.objects.get(pk=user.pk).username == "ada"
    stored = OutgoingMail.objects.get(pk=mail.pk)
    assert (stored.to, stored.key, stored.status) == ("ada@example.com", "welcome:ada", "queued")
    assert stored.created_on == mail.created_on  # auto_now_add set on the instance given
    assert (user._state.adding, mail._state.adding) == (False, False)


@pytest.mark.django_db
def test_three_rows_of_one_model_get_three_keys_in_the_order_given():
    mails = [_mail(f"{name}@example.com") for name in ("a", "b", "c")]

    rows_insert(*mails)

    by_key = dict(OutgoingMail.objects.values_list("pk", "to"))
    assert [by_key[mail.pk] for mail in mails] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


@pytest.mark.django_db
def test_a_row_that_breaks_a_constraint_writes_none_of_them():
    OutgoingMail.objects.create(to="x@example.com", subject="s", template="t", key="taken")
    user = User(username="bo", email="bo@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():  # the test's own savepoint
        rows_insert(user, _mail("bo@example.com", key="taken"))

    assert not User.objects.filter(username="bo").exists()
    assert OutgoingMail.objects.count() == 1


@pytest.mark.django_db
def test_a_saved_row_is_refused_and_nothing_is_written():
    saved = OutgoingMail.objects.create(to="x@example.com", subject="s", template="t")

    with pytest.raises(ValueError, match="new rows only"):
        rows_insert(_mail("y@example.com"), saved)

    assert list(OutgoingMail.objects.values_list("to", flat=True)) == ["x@example.com"]


@pytest.mark.django_db
def test_a_row_spanning_two_tables_is_refused():
    from b2b.models import OrganizationPage

    with pytest.raises(ValueError, match="one table each"):
        rows_insert(_mail("y@example.com"), OrganizationPage(title="Acme", name="Acme"))

    assert OutgoingMail.objects.count() == 0
