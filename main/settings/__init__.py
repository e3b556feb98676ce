"""Settings, read from the environment with working defaults (SPEC §3).

With nothing set, the project runs embedded: a SQLite file in the project, Celery tasks run eagerly
in process after commit, every integration off, ``SITE_BASE_URL`` the dev server's address. A
``.env`` file in the project root is read if present. With ``DEBUG`` off, a real ``SECRET_KEY`` and
``ALLOWED_HOSTS`` are required and the process refuses to start without them.

The settings are read in four parts, in this order: ``core`` (the site, its database and files),
``accounts`` (accounts, mail, SSO, limits), ``tasks`` (Celery and beat) and ``integrations``
(Wagtail, the API, payments, the Content-Security-Policy, Open edX, logging).
"""

from main.settings.accounts import *  # noqa: F403
from main.settings.core import *  # noqa: F403
from main.settings.integrations import *  # noqa: F403
from main.settings.tasks import *  # noqa: F403
