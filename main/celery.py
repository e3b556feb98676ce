"""The Celery application.

With ``CELERY_BROKER_URL`` unset, tasks run eagerly in the calling process (see ``main.settings``);
set it (for example ``redis://127.0.0.1:6379/0``) and start ``celery -A main worker`` to run them
in a worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")

app = Celery("main")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
