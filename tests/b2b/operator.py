"""The commands as an operator runs them: ``manage.py`` in a process of its own, on a SQLite
database of its own (never the test database)."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def operator_env_for(db: Path) -> dict[str, str]:
    """The environment of a ``manage.py`` process on the SQLite file ``db``: the test process's,
    without its database or broker."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=f"sqlite:///{db}", DJANGO_SETTINGS_MODULE="main.settings")
    return env


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    """``python manage.py *argv`` in the project with ``env``; output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=PROJECT, env=env, capture_output=True, text=True
    )


def operator_database(db: Path, *, migrate: bool = True) -> Path:
    """Set up the SQLite file ``db`` with the operator's commands: ``migrate`` (unless ``db``
    is a migrated copy already: ``migrate=False``), then ``configure_wagtail``. Returns ``db``."""
    env = operator_env_for(db)
    steps = [["migrate", "-v", "0"]] if migrate else []
    for argv in [*steps, ["configure_wagtail"]]:
        subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=PROJECT,
            env=env,
            check=True,
            capture_output=True,
        )
    return db
