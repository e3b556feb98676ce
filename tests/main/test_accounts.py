"""Learners' accounts (django-allauth through main.accounts): sign-up with a confirmed email,
login by email or username, password reset, email change with a new confirmation; every mail
through the outgoing mail; the verified email recorded."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.messages import get_messages
from django.core import mail
from django.core.cache import cache
from django.test import Client

from main.accounts import account_email_record, email_is_verified, person_name
from main.models import OutgoingMail, User
from tests.b2b.staff import form_fields
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SITE = "http://testserver"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_BASE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "Learning <no-reply@learn.example.edu>"


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """``with sent(): ...`` runs the mail tasks the block queued (as after its commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def messages_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def link_in(body: str) -> str:
    found = re.findall(rf"{re.escape(SITE)}(/\S+)", body)
    assert found, body
    return found[0]


def addresses(user) -> list[tuple[str, bool, bool]]:
    return list(
        EmailAddress.objects.filter(user=user)
        .order_by("pk")
        .values_list("email", "verified", "primary")
    )


def sign_up(client, sent, **fields):
    data = {"name": "Grace Hopper", "email": "grace@example.edu", "password1": "c0bol-and-ships"}
    data.update(fields)
    with sent():
        return client.post("/signup/", data)


def test_sign_up_mails_a_confirmation_link_and_the_link_logs_in_to_my_courses(sent):
    client = Client()
    response = sign_up(client, sent, email="Grace@Example.edu", name="  Grace   Hopper ")

    assert (response.status_code, response["Location"]) == (302, "/confirm-email/")
    grace = User.objects.get()
    assert (grace.name, grace.email, grace.username, grace.has_usable_password()) == (
        "Grace Hopper",
        "grace@example.edu",
        "grace",
        True,
    )
    assert addresses(grace) == [("grace@example.edu", False, True)]
    assert client.get("/dashboard/").status_code == 302  # not logged in before confirming
    page = client.get("/confirm-email/").content.decode()
    assert "<h1>Check your email</h1>" in page

    [message] = mail.outbox
    assert (message.to, message.from_email, message.subject) == (
        ["grace@example.edu"],
        "Learning <no-reply@learn.example.edu>",
        "Confirm your email address to finish signing up",
    )
    link = link_in(message.body)
    key = link.removeprefix("/confirm-email/").rstrip("/")
    assert message.body == (
        "Hello Grace Hopper,\n\n"
        "Welcome to Learning. To finish creating your account, confirm your email address by "
        "opening this link:\n\n"
        f"{SITE}/confirm-email/{key}/\n\n"
        "Then you can log in with grace@example.edu and your password.\n\n"
        "If you did not sign up, ignore this email: no account is made without the "
        "confirmation.\n\n"
        "Learning\n"
        f"{SITE}/\n"
    )
    html = message.alternatives[0][0]
    assert f'<a href="{SITE}/confirm-email/{key}/"' in html
    assert list(OutgoingMail.objects.values_list("template", "status", "user")) == [
        ("account/email/email_confirmation_signup", "sent", grace.pk)
    ]

    confirm = client.get(link)
    assert "Is <strong>grace@example.edu</strong> your email address?" in confirm.content.decode()
    with sent():
        done = client.post(link)

    assert (done.status_code, done["Location"]) == (302, "/dashboard/")
    assert addresses(grace) == [("grace@example.edu", True, True)]
    my_courses = client.get("/dashboard/")
    assert my_courses.wsgi_request.user == grace
    assert messages_of(my_courses) == ["Your email address grace@example.edu is confirmed."]


def test_a_login_before_confirming_sends_a_new_link_at_most_every_three_minutes(sent):
    sign_up(Client(), sent)
    mail.outbox.clear()
    client = Client()
    credentials = {"login": "grace@example.edu", "password": "c0bol-and-ships"}

    with sent():
        at_once = client.post("/login/", credentials)
    assert (at_once.status_code, at_once["Location"], mail.outbox) == (302, "/confirm-email/", [])

    cache.clear()  # allauth's cooldown counts in the cache: three minutes later
    with sent():
        later = client.post("/login/", credentials)

    assert (later.status_code, later["Location"]) == (302, "/confirm-email/")
    assert client.get("/dashboard/").status_code == 302
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["grace@example.edu"], "Confirm your email address")
    ]


def test_confirming_in_another_browser_asks_to_log_in_then_lands_on_my_courses(sent):
    sign_up(Client(), sent)
    link = link_in(mail.outbox[0].body)
    phone = Client()

    with sent():
        confirmed = phone.post(link)

    assert (confirmed.status_code, confirmed["Location"]) == (302, "/login/")
    login = phone.post("/login/", {"login": "grace@example.edu", "password": "c0bol-and-ships"})
    assert (login.status_code, login["Location"]) == (302, "/dashboard/")


def test_an_unknown_or_used_confirmation_link_says_what_to_do():
    page = Client().get("/confirm-email/not-a-key/").content.decode()
    assert "This link has expired or was already used." in page
    assert '<a href="/login/">Log in</a>: if your address still needs confirming' in page


@pytest.mark.parametrize("login", ["ada@example.edu", "ADA@example.edu", "ada"])
def test_a_confirmed_learner_logs_in_by_email_or_username_and_lands_on_my_courses(login):
    UserFactory(username="ada", email="ada@example.edu")
    client = Client()

    response = client.post("/login/", {"login": login, "password": "learner-password"})

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert client.get("/dashboard/").wsgi_request.user.username == "ada"


def test_a_wrong_password_is_refused_with_a_clear_message():
    UserFactory(username="ada", email="ada@example.edu")

    response = Client().post("/login/", {"login": "ada@example.edu", "password": "nope"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "The email address and/or password you specified are not correct." in page
    assert 'id="id_login" autocomplete="username"' in page
    assert 'aria-invalid="true" aria-describedby="form-error"' in page


def test_login_goes_back_to_the_page_that_asked_for_it():
    UserFactory(username="ada", email="ada@example.edu")

    response = Client().post(
        "/login/", {"login": "ada", "password": "learner-password", "next": "/cart/"}
    )

    assert response["Location"] == "/cart/"


def test_log_out_lands_on_the_login_page_with_a_message():
    ada = UserFactory(username="ada", email="ada@example.edu")
    client = Client()
    client.force_login(ada)

    response = client.post("/logout/")

    assert (response.status_code, response["Location"]) == (302, "/login/")
    page = client.get("/login/")
    assert messages_of(page) == ["You have logged out."]
    assert page.wsgi_request.user.is_anonymous


def test_password_reset_end_to_end(sent):
    ada = UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    client = Client()

    with sent():
        requested = client.post("/password/reset/", {"email": "ADA@example.edu"})

    assert requested["Location"] == "/password/reset/done/"
    [message] = mail.outbox
    assert (message.to, message.subject) == (["ada@example.edu"], "Reset your password")
    link = link_in(message.body)
    assert message.body == (
        "Hello Ada Lovelace,\n\n"
        "Someone (we hope you) asked to reset the password of your account. Choose a new "
        "password by opening this link (it works once):\n\n"
        f"{SITE}{link}\n\n"
        "Your username is ada; you can also log in with this email address.\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n\n"
        "Learning\n"
        f"{SITE}/\n"
    )

    form = client.get(link, follow=True)
    assert "<h1>Choose a new password</h1>" in form.content.decode()
    with sent():
        changed = client.post(
            form.redirect_chain[-1][0],
            {"password1": "analytical-engine", "password2": "analytical-engine"},
        )

    assert changed["Location"] == "/password/reset/key/done/"
    assert "<h1>Your password is changed</h1>" in client.get(changed["Location"]).content.decode()
    assert [m.subject for m in mail.outbox] == ["Reset your password", "Your password was reset"]
    refused = Client().post("/login/", {"login": "ada", "password": "learner-password"})
    assert refused.status_code == 200
    accepted = Client().post("/login/", {"login": "ada", "password": "analytical-engine"})
    assert accepted["Location"] == "/dashboard/"
    # The link works once.
    again = client.get(link, follow=True).content.decode()
    assert "The link to reset your password has expired or was already used." in again
    ada.refresh_from_db()
    assert ada.check_password("analytical-engine")


def test_password_reset_for_an_unknown_address_tells_that_address_and_nothing_else(sent):
    client = Client()

    with sent():
        response = client.post("/password/reset/", {"email": "nobody@example.edu"})

    assert response["Location"] == "/password/reset/done/"  # the same page as for an account
    [message] = mail.outbox
    assert (message.to, message.subject) == (
        ["nobody@example.edu"],
        "No account uses this email address",
    )
    assert f"{SITE}/signup/" in message.body


def test_signing_up_again_with_a_used_address_makes_no_account_and_mails_its_owner(sent):
    UserFactory(username="ada", email="ada@example.edu")

    response = sign_up(Client(), sent, email="ada@example.edu")

    assert response["Location"] == "/confirm-email/"  # no hint that the address is taken
    assert User.objects.count() == 1
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["ada@example.edu"], "You already have an account")
    ]


def test_an_email_change_takes_effect_once_the_new_address_is_confirmed(sent):
    ada = UserFactory(username="ada", email="ada@example.edu")
    client = Client()
    client.force_login(ada)

    with sent():
        response = client.post("/email/", {"action_add": "", "email": "ada@new.example"})

    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.email == "ada@example.edu"  # unchanged until confirmed
    assert addresses(ada) == [("ada@example.edu", True, True), ("ada@new.example", False, False)]
    page = client.get("/email/").content.decode()
    assert "Changing to <strong>ada@new.example</strong>" in page
    [message] = mail.outbox
    assert (message.to, message.subject) == (["ada@new.example"], "Confirm your email address")

    with sent():
        client.post(link_in(message.body))

    ada.refresh_from_db()
    assert ada.email == "ada@new.example"
    assert addresses(ada) == [("ada@new.example", True, True)]
    assert email_is_verified(ada, "ADA@new.example") is True
    assert email_is_verified(ada, "ada@example.edu") is False
    assert [(m.to, m.subject) for m in mail.outbox[1:]] == [
        (["ada@example.edu"], "Your email address was changed")
    ]
    assert (
        "The email address of your account was changed from ada@example.edu to ada@new.example."
        in mail.outbox[1].body
    )


def test_the_account_pages_need_a_login():
    for path in ("/email/", "/password/change/"):
        response = Client().get(path)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")


def test_staff_still_log_in_to_the_wagtail_and_django_admins():
    UserFactory(username="root", email="root@example.edu", is_staff=True, is_superuser=True)

    admin = Client()
    response = admin.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "learner-password"}
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert admin.get("/admin/").status_code == 200

    cms = Client()
    response = cms.post("/cms/login/", {"username": "root", "password": "learner-password"})
    assert (response.status_code, response["Location"]) == (302, "/cms/")


def test_recording_an_email_makes_it_the_primary_address_and_never_unverifies():
    ada = UserFactory(username="ada", email="old@example.edu")

    account_email_record(ada, "Ada@Acme.example", verified=False)

    ada.refresh_from_db()
    assert ada.email == "Ada@Acme.example"
    assert addresses(ada) == [("ada@acme.example", False, True)]
    account_email_record(ada, "ada@acme.example", verified=True)
    account_email_record(ada, "ada@acme.example", verified=False)
    assert addresses(ada) == [("ada@acme.example", True, True)]
    assert account_email_record(ada, "  ", verified=True) is None
    assert addresses(ada) == [("ada@acme.example", True, True)]


def test_an_address_another_account_has_verified_stays_unverified(caplog):
    UserFactory(username="ada", email="ada@example.edu")
    other = UserFactory(username="other", email="other@example.edu")

    account_email_record(other, "ada@example.edu", verified=True)

    assert addresses(other) == [("ada@example.edu", False, True)]
    assert (
        f"The email ada@example.edu is verified by another account: recorded unverified for "
        f"user {other.pk}." in caplog.messages
    )


def test_an_email_staff_type_in_the_admin_is_recorded_unconfirmed(admin_client):
    ada = UserFactory(username="ada", email="ada@example.edu")
    page = admin_client.get(f"/admin/main/user/{ada.pk}/change/").content.decode()
    data = form_fields(page, "user_form")
    data["email"] = "ada@other.example"

    response = admin_client.post(f"/admin/main/user/{ada.pk}/change/", data)

    assert response.status_code == 302
    assert addresses(ada) == [("ada@other.example", False, True)]


def test_staff_land_on_the_cms_and_learners_on_my_courses_after_logging_in():
    from django.contrib.auth.models import Group, Permission

    UserFactory(username="root", email="root@example.edu", is_staff=True, is_superuser=True)
    editor = UserFactory(username="editor", email="editor@example.edu", is_staff=True)
    group = Group.objects.create(name="Editors here")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    editor.groups.add(group)
    UserFactory(username="ada", email="ada@example.edu")

    landed = {
        login: Client().post("/login/", {"login": login, "password": "learner-password"})[
            "Location"
        ]
        for login in ("root@example.edu", "editor", "ada")
    }

    assert landed == {"root@example.edu": "/cms/", "editor": "/cms/", "ada": "/dashboard/"}


@pytest.mark.parametrize("path", ["/logout/", "/admin/logout/", "/cms/logout/"])
def test_every_logout_lands_on_the_sites_login_page(path):
    root = UserFactory(username="root", email="root@example.edu", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)

    response = client.post(path)

    assert (response.status_code, response["Location"]) == (302, "/login/")
    page = client.get("/login/")
    assert messages_of(page) == ["You have logged out."]
    assert page.wsgi_request.user.is_anonymous


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Eve\x1b[2J", "001B"),
        ("Eve\u202egnp.exe", "202E"),
        ("Eve\u200b", "200B"),
        ("E\x07ve", "0007"),
    ],
)
def test_sign_up_refuses_a_name_with_control_or_invisible_characters(sent, name, code):
    response = sign_up(Client(), sent, name=name)

    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        f"Your name contains a control or invisible character (U+{code}): type it again without it."
    ]
    assert User.objects.count() == 0
    assert mail.outbox == []


def test_person_name_drops_what_a_provider_should_not_have_sent():
    assert person_name("  Eve\x1b[2J \u202e Lovelace\u200b\t ") == "Eve[2J Lovelace"
    assert person_name("A" * 300) == "A" * 255
    assert person_name("\x1b\u200b") == ""
