"""Site set-up services: the Wagtail tree that the rest of the product hangs from.

``main`` is the ground floor: it knows the root, Home and the default site, nothing of the apps
built on it. An app that hangs pages or groups from Home registers a Wagtail hook named
``SITE_CONFIGURE_HOOK`` in its ``wagtail_hooks.py`` (the B2B app adds the Organizations index
and the "B2B staff" group); ``site_configure`` runs every such hook after Home exists.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from wagtail import hooks
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Collection, Locale, Page, Site

from main.models import HomePage

#: The Wagtail hook an app registers to set up what it hangs from Home: a function called as
#: ``fn(home=HomePage)`` inside ``site_configure``'s transaction, idempotent, returning the list of
#: what it did (sentences, empty when nothing was missing).
SITE_CONFIGURE_HOOK = "site_configure"


@dataclass
class SiteConfiguration:
    home: HomePage
    actions: list[str] = field(default_factory=list)


@transaction.atomic
def site_configure() -> SiteConfiguration:
    """Make sure the page tree is root → Home (the default site), then let every app set up
    what it hangs from Home (the ``SITE_CONFIGURE_HOOK`` hooks: with the B2B app, the
    Organizations index and the "B2B staff" group with exactly its permissions). Idempotent.

    Creates whatever is missing (also after ``manage.py flush``, which empties the tree), removes
    Wagtail's placeholder welcome page once Home replaces it, and returns what it did.
    """
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

    for configure in hooks.get_hooks(SITE_CONFIGURE_HOOK):
        actions.extend(configure(home=home))
    return SiteConfiguration(home=home, actions=actions)
