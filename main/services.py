"""Site set-up services: the Wagtail tree that the rest of the product hangs from."""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Collection, Locale, Page, Site

from main.models import HomePage


@dataclass
class SiteConfiguration:
    home: HomePage
    actions: list[str] = field(default_factory=list)


@transaction.atomic
def site_configure() -> SiteConfiguration:
    """Make sure the page tree is root → Home (the default site) → Organizations, and the
    "B2B staff" group has exactly its permissions on it (``b2b.services.staff``). Idempotent.

    Creates whatever is missing (also after ``manage.py flush``, which empties the tree), removes
    Wagtail's placeholder welcome page once Home replaces it, and returns what it did.
    """
    from b2b.services.organizations import organization_index_ensure  # b2b hangs from Home
    from b2b.services.staff import staff_group_ensure

    actions: list[str] = []
    language = get_supported_content_language_variant(settings.LANGUAGE_CODE)
    _, created = Locale.objects.get_or_create(language_code=language)
    if created:
        actions.append(f"Created the default locale ({language}).")

    root = Page.get_first_root_node()
    if root is None:
        root = Page.add_root(instance=Page(title="Root", slug="root", live=True))
        actions.append("Created the root of the page tree.")

    home = HomePage.objects.first()
    if home is None:
        placeholder = root.get_children().filter(slug="home", content_type__model="page").first()
        if placeholder is not None:
            placeholder.slug = "wagtail-welcome"
            placeholder.save(update_fields=["slug"])
        home = HomePage(title="Home", slug="home", live=True)
        root.add_child(instance=home)
        home.save_revision().publish()
        actions.append(f"Created the Home page (id {home.pk}).")
        if placeholder is not None:
            Site.objects.filter(root_page=placeholder).update(root_page=home)
            placeholder.delete()
            actions.append("Removed Wagtail's placeholder welcome page.")

    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(
            hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="B2B"
        )
        actions.append("Created the default site.")
    elif site.root_page_id != home.pk:
        site.root_page = home
        site.save(update_fields=["root_page"])
        actions.append("Pointed the default site at the Home page.")

    if Collection.get_first_root_node() is None:  # images (organization logos) live in it
        Collection.add_root(name="Root")
        actions.append("Created the root collection of images and documents.")

    index, created = organization_index_ensure(home=home)
    if created:
        actions.append(f"Created the Organizations index under Home (id {index.pk}).")
    actions.extend(staff_group_ensure(index=index).actions)
    return SiteConfiguration(home=home, actions=actions)
