"""Side effects after commit (ARCHITECTURE, rule 4)."""

from typing import Any

from celery import Task
from django.db import transaction


def enqueue_on_commit(task: Task, *args: Any, using: str | None = None) -> None:
    """Queue ``task.delay(*args)`` once the current transaction commits; never if it rolls back.

    Outside a transaction the task is queued at once. With Celery eager (no broker set) the task
    then runs in this process, after the commit, and its exceptions propagate to the caller.
    """
    transaction.on_commit(lambda: task.delay(*args), using=using)


def enqueue_once_on_commit(task: Task, *args: Any, using: str | None = None) -> None:
    """Like ``enqueue_on_commit``, but at most once per transaction for the same task and
    arguments: a change that several steps of one transaction ask to follow up (a contract
    published by a command that also queues its code adjustment) runs the task once.

    A request dropped with a rolled-back savepoint leaves nothing behind: the next one queues.
    """
    key = (task.name, args)
    connection = transaction.get_connection(using)
    if connection.in_atomic_block and any(
        getattr(callback, "queue_key", None) == key and not getattr(callback, "done", False)
        for _, callback, *_ in connection.run_on_commit
    ):
        return

    def callback() -> None:
        callback.done = True  # type: ignore[attr-defined]
        task.delay(*args)

    callback.queue_key = key  # type: ignore[attr-defined]
    transaction.on_commit(callback, using=using)
