"""Learners and staff accounts."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from main.accounts import account_email_record


class UserFactory(factory.django.DjangoModelFactory):
    """A learner: ``learner<n>``, ``learner<n>@example.edu``, password ``learner-password``."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"learner{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.edu")
    name = factory.LazyAttribute(lambda u: f"Learner {u.username}")
    password = factory.django.Password("learner-password")

    @factory.post_generation
    def email_verified(obj, create, extracted, **kwargs):  # noqa: N805
        """The email is the account's confirmed address, as after sign-up; pass
        ``email_verified=False`` for an account whose address is not confirmed."""
        if create and obj.email and extracted is not False:
            account_email_record(obj, obj.email, verified=True)


def users_bulk(count: int, *, prefix: str = "bulk") -> list[Any]:
    """``count`` learners ``<prefix><n>`` (n from the number of users so far), made in one bulk
    insert per 1,000 with unusable passwords (no hashing)."""
    User = get_user_model()
    unusable = make_password(None)
    start = User.objects.count()
    return User.objects.bulk_create(
        [
            User(
                username=f"{prefix}{start + i}",
                email=f"{prefix}{start + i}@example.edu",
                name=f"Bulk Learner {start + i}",
                password=unusable,
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
