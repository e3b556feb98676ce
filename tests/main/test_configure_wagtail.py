"""``manage.py configure_wagtail``: root → Home (default site root) → "Organizations" (SPEC §7)."""

import io

import pytest
from django.core.management import call_command
from wagtail.models import Locale, Page, Site

from b2b.models import OrganizationIndexPage
from main.models import HomePage
from tests.conftest import Output


def configure() -> Output:
    out, err = io.StringIO(), io.StringIO()
    call_command("configure_wagtail", stdout=out, stderr=err)
    return Output(out.getvalue(), err.getvalue())


def tree_state() -> dict[str, list]:
    return {
        "pages": list(Page.objects.order_by("path").values()),
        "sites": list(Site.objects.order_by("pk").values()),
        "locales": list(Locale.objects.order_by("pk").values()),
    }


def assert_configured_tree() -> tuple[HomePage, OrganizationIndexPage]:
    """The one tree configure_wagtail promises, checked node by node."""
    (root,) = Page.get_root_nodes()
    assert (root.depth, root.slug) == (1, "root")
    home = HomePage.objects.get()
    assert list(root.get_children()) == [home.page_ptr]
    assert (home.title, home.slug, home.live, home.url_path) == ("Home", "home", True, "/home/")
    assert home.live_revision is not None
    site = Site.objects.get()
    assert (site.is_default_site, site.root_page_id) == (True, home.pk)
    index = OrganizationIndexPage.objects.get()
    assert list(home.get_children()) == [index.page_ptr]
    assert (index.title, index.slug, index.live, index.url_path) == (
        "Organizations",
        "organizations",
        True,
        "/home/organizations/",
    )
    assert index.live_revision is not None
    assert index.get_children().count() == 0
    assert Page.objects.count() == 3
    return home, index


@pytest.mark.django_db
def test_configure_replaces_the_wagtail_welcome_page():
    # given a freshly migrated database: root → Wagtail's "Welcome" page, the default site on it
    welcome = Page.objects.get(depth=2)
    assert (welcome.slug, welcome.specific_class) == ("home", Page)
    assert Site.objects.get().root_page_id == welcome.pk

    # when
    out = configure()

    # then Home replaces the welcome page as the site's root, with the Organizations index under it
    home, index = assert_configured_tree()
    assert out.stdout == (
        f"Created the Home page (id {home.pk}).\n"
        "Removed Wagtail's placeholder welcome page.\n"
        f"Created the Organizations index under Home (id {index.pk}).\n"
        "Created the “B2B staff” group: 4 page permissions on Organizations, 2 on images, 13 "
        "model permissions.\n"
    )
    assert out.stderr == ""
    assert not Page.objects.filter(pk=welcome.pk).exists()
    assert list(Locale.objects.values_list("language_code", flat=True)) == ["en"]


@pytest.mark.django_db
def test_configure_twice_does_nothing_the_second_time():
    # given a configured site
    configure()
    before = tree_state()

    # when it runs again
    out = configure()

    # then it says so and changes nothing
    assert out.stdout == "Wagtail is already configured: nothing to do.\n"
    assert tree_state() == before
    assert_configured_tree()


@pytest.mark.django_db
def test_configure_points_the_default_site_back_at_home():
    # given a configured site whose default site was pointed at the tree root
    configure()
    Site.objects.update(root_page=Page.get_first_root_node())

    # when
    out = configure()

    # then
    assert out.stdout == "Pointed the default site at the Home page.\n"
    assert_configured_tree()


@pytest.mark.django_db
def test_configure_recreates_a_deleted_organizations_index():
    configure()
    OrganizationIndexPage.objects.get().delete()

    out = configure()

    _, index = assert_configured_tree()
    assert out.stdout == (
        f"Created the Organizations index under Home (id {index.pk}).\n"
        "Reset the permissions of the “B2B staff” group: 4 page permissions on Organizations, "
        "2 on images, 13 model permissions.\n"
    )


@pytest.mark.django_db
def test_configure_creates_a_missing_default_site():
    configure()
    Site.objects.all().delete()

    out = configure()

    assert out.stdout == "Created the default site.\n"
    assert_configured_tree()
    assert Site.objects.values_list("hostname", "port", "site_name").get() == (
        "localhost",
        80,
        "B2B",
    )


@pytest.mark.django_db(transaction=True)
def test_configure_after_flush_builds_the_whole_tree():
    # given a flushed database: no page, no site, no locale
    call_command("flush", interactive=False, verbosity=0)
    assert (Page.objects.count(), Site.objects.count(), Locale.objects.count()) == (0, 0, 0)

    # when
    out = configure()

    # then everything is made, in order
    home, index = assert_configured_tree()
    assert out.stdout == (
        "Created the default locale (en).\n"
        "Created the root of the page tree.\n"
        f"Created the Home page (id {home.pk}).\n"
        "Created the default site.\n"
        "Created the root collection of images and documents.\n"
        f"Created the Organizations index under Home (id {index.pk}).\n"
        "Created the “B2B staff” group: 4 page permissions on Organizations, 2 on images, 13 "
        "model permissions.\n"
    )
    assert list(Locale.objects.values_list("language_code", flat=True)) == ["en"]
    assert {page.locale.language_code for page in Page.objects.all()} == {"en"}
    assert Site.objects.values_list("hostname", "port", "site_name").get() == (
        "localhost",
        80,
        "B2B",
    )

    # and a second run has nothing to do
    before = tree_state()
    assert configure().stdout == "Wagtail is already configured: nothing to do.\n"
    assert tree_state() == before


@pytest.mark.django_db
def test_configure_gives_the_b2b_staff_group_exactly_its_permissions():
    from django.contrib.auth.models import Group, Permission
    from wagtail.models import GroupCollectionPermission, GroupPagePermission

    configure()
    group = Group.objects.get(name="B2B staff")
    # drifted: powers over accounts and the catalog added by hand, one it needs taken away
    group.permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "add_user",
                "delete_user",
                "change_group",
                "add_courserun",
                "change_course",
            ]
        )
    )
    group.permissions.remove(Permission.objects.get(codename="add_contractmembership"))

    out = configure()

    assert out.stdout == (
        "Reset the permissions of the “B2B staff” group: 4 page permissions on Organizations, "
        "2 on images, 13 model permissions.\n"
    )
    index = OrganizationIndexPage.objects.get()
    assert sorted(
        GroupPagePermission.objects.filter(group=group).values_list(
            "page_id", "permission__codename"
        )
    ) == [
        (index.pk, "add_page"),
        (index.pk, "change_page"),
        (index.pk, "delete_page"),
        (index.pk, "publish_page"),
    ]
    assert sorted(
        GroupCollectionPermission.objects.filter(group=group).values_list(
            "permission__codename", flat=True
        )
    ) == ["add_image", "choose_image"]
    assert sorted(
        f"{app}.{code}"
        for app, code in group.permissions.values_list("content_type__app_label", "codename")
    ) == [
        "b2b.add_contractmembership",
        "b2b.delete_contractmembership",
        "b2b.view_contractmembership",
        "b2b.view_contractpage",
        "b2b.view_organizationpage",
        "courses.change_courserun",
        "courses.view_course",
        "courses.view_courserun",
        "courses.view_program",
        "ecommerce.view_discount",
        "main.change_user",
        "main.view_user",
        "wagtailadmin.access_admin",
    ]
