"""The "B2B staff" group: exactly the permissions to run the B2B staff surfaces (SPEC §7).

Members (also give them ``is_staff`` for the Django Admin) can, in Wagtail, create, edit,
publish and delete organizations and contracts under the Organizations page (and nothing else in
the page tree), upload and choose logos; in the Django Admin, read organizations, contracts,
memberships, enrollment codes and the catalog, flag source runs on course runs, and attach
learners to contracts or detach them on the User page.

Django's permissions are per model, so two of them grant more than the job on their own; the
admin narrows them for anyone who is not a superuser:

- ``main.change_user`` lets the User page's contract-membership rows be saved. Everything else
  on the page is read-only (identity, ``is_active``, groups, permissions, dates), there is no
  password form (its URL answers 403), no user is added or deleted, and staff accounts other than
  one's own are not changeable (``main.admin.UserAdmin``); Wagtail's user editor and its bulk
  actions on users are for superusers only (``main.wagtail_hooks``).
- ``courses.change_courserun`` lets ``is_source_run`` be ticked; every other field of a run is
  read-only (``courses.admin.CourseRunAdmin``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission

from b2b.models import OrganizationIndexPage
from main.models import User

STAFF_GROUP = "B2B staff"

#: Page permissions on the Organizations index (and so on every page under it).
PAGE_PERMISSIONS = ("add_page", "change_page", "publish_page", "delete_page")
#: Image permissions on the root collection (organization logos).
COLLECTION_PERMISSIONS = ("add_image", "choose_image")
#: Model permissions: (app label, codename).
MODEL_PERMISSIONS = (
    ("wagtailadmin", "access_admin"),
    ("b2b", "view_organizationpage"),
    ("b2b", "view_contractpage"),
    ("b2b", "view_contractmembership"),
    ("b2b", "add_contractmembership"),
    ("b2b", "delete_contractmembership"),
    ("main", "view_user"),
    ("main", "change_user"),  # the User page's memberships only: see the module docstring
    ("ecommerce", "view_discount"),
    ("courses", "view_course"),
    ("courses", "view_courserun"),
    ("courses", "change_courserun"),  # is_source_run only: see the module docstring
    ("courses", "view_program"),
)


@dataclass
class StaffGroupResult:
    group: Group
    actions: list[str] = field(default_factory=list)


def _permissions(app_label: str, codenames: tuple[str, ...]) -> list[Permission]:
    return list(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )


@transaction.atomic
def staff_group_ensure(*, index: OrganizationIndexPage) -> StaffGroupResult:
    """Create the "B2B staff" group, or put its permissions back to exactly the ones above
    (extra ones removed, missing ones added). Idempotent; ``actions`` says what it did."""
    group, created = Group.objects.get_or_create(name=STAFF_GROUP)
    result = StaffGroupResult(group)

    query = Q()
    for app_label, codename in MODEL_PERMISSIONS:
        query |= Q(content_type__app_label=app_label, codename=codename)
    wanted_model = set(Permission.objects.filter(query).values_list("pk", flat=True))
    have_model = set(group.permissions.values_list("pk", flat=True))

    page_perms = {p.pk: p for p in _permissions("wagtailcore", PAGE_PERMISSIONS)}
    wanted_pages = {(index.pk, pk) for pk in page_perms}
    have_pages = set(
        GroupPagePermission.objects.filter(group=group).values_list("page_id", "permission_id")
    )

    root = Collection.get_first_root_node()
    image_perms = {p.pk: p for p in _permissions("wagtailimages", COLLECTION_PERMISSIONS)}
    wanted_images = {(root.pk, pk) for pk in image_perms} if root else set()
    have_images = set(
        GroupCollectionPermission.objects.filter(group=group).values_list(
            "collection_id", "permission_id"
        )
    )

    if (wanted_model, wanted_pages, wanted_images) == (have_model, have_pages, have_images):
        return result
    group.permissions.set(wanted_model)
    GroupPagePermission.objects.filter(group=group).delete()
    GroupPagePermission.objects.bulk_create(
        GroupPagePermission(group=group, page_id=page_id, permission_id=perm_id)
        for page_id, perm_id in sorted(wanted_pages)
    )
    GroupCollectionPermission.objects.filter(group=group).delete()
    GroupCollectionPermission.objects.bulk_create(
        GroupCollectionPermission(group=group, collection_id=collection_id, permission_id=perm_id)
        for collection_id, perm_id in sorted(wanted_images)
    )
    verb = "Created" if created else "Reset the permissions of"
    result.actions.append(
        f"{verb} the “{STAFF_GROUP}” group: {len(wanted_pages)} page permissions on "
        f"Organizations, {len(wanted_images)} on images, {len(wanted_model)} model permissions."
    )
    return result


def staff_member_ensure(*, username: str, email: str, password: str, name: str = "") -> User:
    """A staff account in the "B2B staff" group (``is_staff``, not a superuser), with this
    password; created or brought back to that state. Run ``configure_wagtail`` first."""
    group = Group.objects.filter(name=STAFF_GROUP).first()
    if group is None:
        raise LookupError(f"No {STAFF_GROUP!r} group yet: run `manage.py configure_wagtail`.")
    user, _ = User.objects.get_or_create(username=username)
    user.email, user.name = email, name or user.name
    user.is_staff, user.is_superuser, user.is_active = True, False, True
    user.set_password(password)
    user.save()
    user.groups.add(group)
    return user
