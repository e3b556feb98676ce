"""The contract's own pages in the Wagtail admin (SPEC §7): overview, courseware, codes, learners
and history, linked from the contract's edit page and the page listing (``b2b.wagtail_hooks``).

Staff do here what the commands do, through the same services (``b2b.services.*``): a change is
planned first where the command has ``--dry-run``, confirmed with a POST (CSRF), recorded with the
person as actor (``main.actors.ActorMiddleware`` acts as the request's user, via ``wagtail``), and
a refusal (``DomainError``) is a message on the page, never a 500. Only B2B staff and superusers
get in (``staff_required``); anyone else gets 403.
"""

from typing import Any

from django.urls import path

from b2b.staff_views import codes as codes_views
from b2b.staff_views import courseware as courseware_views
from b2b.staff_views import history as history_views
from b2b.staff_views import learners as learners_views
from b2b.staff_views import overview as overview_views
from b2b.staff_views.base import staff_can_manage

__all__ = ["staff_can_manage", "urlpatterns_for_admin"]


def urlpatterns_for_admin() -> list[Any]:
    """The URLs, mounted under ``/cms/b2b/contracts/`` by ``register_admin_urls``."""
    return [
        path("<int:contract_id>/", overview_views.overview, name="overview"),
        path("<int:contract_id>/edx-retry/", overview_views.edx_retry, name="edx_retry"),
        path("<int:contract_id>/courseware/", courseware_views.courseware, name="courseware"),
        path(
            "<int:contract_id>/courseware/plan/",
            courseware_views.courseware_plan,
            name="courseware_plan",
        ),
        path("<int:contract_id>/codes/", codes_views.codes, name="codes"),
        path("<int:contract_id>/codes.csv", codes_views.codes_csv, name="codes_csv"),
        path(
            "<int:contract_id>/codes/deactivate/",
            codes_views.codes_deactivate_view,
            name="codes_deactivate",
        ),
        path("<int:contract_id>/learners/", learners_views.learners, name="learners"),
        path(
            "<int:contract_id>/learners/detach/",
            learners_views.learner_detach,
            name="learner_detach",
        ),
        path("<int:contract_id>/learners.csv", learners_views.learners_csv, name="learners_csv"),
        path("<int:contract_id>/history/", history_views.history, name="history"),
    ]
