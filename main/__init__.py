"""The monolith's shared plumbing: settings, URLs, the Celery app, the User and Home page models."""

from main.celery import app as celery_app

__all__ = ["celery_app"]
