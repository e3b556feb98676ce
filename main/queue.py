"""Side effects after commit (ARCHITECTURE, rule 4)."""

from typing import Any

from celery import Task
from django.db import transaction

from main.celery import app


def enqueue_on_commit(task: Task, *args: Any, using: str | None = None) -> None:
    """Queue ``task.delay(*args)`` once the current transaction commits; never if it rolls back.

    Outside a transaction the task is queued at once. With Celery eager (no broker set) the task
    then runs in this process, after the commit, and its exceptions propagate to the caller.
    """
    transaction.on_commit(lambda: task.delay(*args), using=using)


def task_send(name: str, *args: object) -> None:
    """Queue the task registered as ``name`` (``"<module>.<function>"``) with ``args``, now.

    For a service whose own task module imports it: the service names its task instead of
    importing the module that imports it. The worker runs it as it runs ``task.delay(*args)``.
    """
    app.send_task(name, args=args)
