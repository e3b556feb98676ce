"""Password logins are throttled at the authentication backend (django-axes): after
``LOGIN_FAILURE_LIMIT`` failures for one username from one address, that pair is refused for
``LOGIN_COOLOFF_MINUTES``, on every login form (the site's, the Django admin's, Wagtail's)."""

import pytest
from axes.models import AccessAttempt

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase"
LOCKED = (
    "Too many failed login attempts: wait 15 minutes before trying again. Every attempt while you "
    "wait starts the wait again."
)


@pytest.fixture
def ada(db):
    return UserFactory(username="ada", password=PASSWORD, is_staff=True, is_superuser=True)


def login(client, password: str, *, url: str = "/login/", username: str = "ada"):
    field = "login" if url == "/login/" else "username"  # the site's form takes email or username
    return client.post(url, {field: username, "password": password})


def test_the_sixth_attempt_is_refused_even_with_the_right_password(client, ada):
    client.defaults["REMOTE_ADDR"] = "203.0.113.7"
    for _ in range(4):
        response = login(client, "wrong")
        assert response.status_code == 200
        assert (
            "The username and/or password you specified are not correct."
            in response.content.decode()
        )

    locked = login(client, "wrong")  # the fifth failure locks the pair out
    assert (locked.status_code, locked["Retry-After"]) == (429, "900")
    refused = login(client, PASSWORD)
    assert (refused.status_code, refused["Retry-After"]) == (429, "900")
    page = refused.content.decode()
    assert (
        f'<p class="notice error" role="alert" data-code="too-many-attempts">{LOCKED}</p>' in page
    )
    assert "_auth_user_id" not in client.session
    assert list(
        AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")
    ) == [("ada", "203.0.113.7", 6)]


@pytest.mark.parametrize("url", ["/admin/login/", "/cms/login/"])
def test_the_admin_login_forms_share_the_throttle(client, ada, url):
    for _ in range(5):
        login(client, "wrong")

    refused = client.post(url, {"username": "ada", "password": PASSWORD})

    assert (refused.status_code, refused["Retry-After"]) == (429, "900")
    assert "_auth_user_id" not in client.session


def test_another_address_or_another_username_is_not_held(client, ada, settings):
    UserFactory(username="bob", password=PASSWORD)
    client.defaults["REMOTE_ADDR"] = "203.0.113.7"
    for _ in range(5):
        login(client, "wrong")

    assert login(client, PASSWORD, username="bob").status_code == 302
    client.logout()
    client.defaults["REMOTE_ADDR"] = "198.51.100.9"
    response = login(client, PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/cms/")  # ada is staff


def test_a_success_before_the_limit_clears_the_failures(client, ada):
    for _ in range(4):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert login(client, "wrong").status_code == 200
    assert login(client, PASSWORD).status_code == 302


def test_the_limit_and_the_wait_are_settings(client, ada, settings):
    settings.AXES_FAILURE_LIMIT = 2
    login(client, "wrong")
    assert login(client, "wrong").status_code == 429


def test_the_throttle_backend_comes_first():
    from django.conf import settings

    assert settings.AUTHENTICATION_BACKENDS[0] == "main.security.LoginThrottleBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_failures_by_email_are_counted_under_the_address_typed(client, ada):
    for _ in range(4):
        assert login(client, "wrong", username="Ada@Example.edu").status_code == 200

    locked = login(client, "wrong", username="ada@example.edu")

    assert (locked.status_code, locked["Retry-After"]) == (429, "900")
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [
        ("ada@example.edu", 5)
    ]
