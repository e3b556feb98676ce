"""``make bench-commands``: how long an operator's command takes to start.

Runs ``manage.py help`` (Django set up, every app loaded, no work) ``BENCH_RUNS`` times (5) in
fresh processes with the project's bytecode compiled (``make install``), and prints the median
wall time and the median CPU time (user + system: less sensitive than the wall time to a busy
machine), against the target of 1.2 s, with the load average at start. Then one more run under
``python -X importtime`` prints the ``BENCH_TOP`` (12) top-level imports that cost the most
(cumulative ms), which is where a slow start comes from. Exit 0 (a missed target is reported,
not failed: it depends on the machine), 2 for a bad setting.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
TARGET = 1.2  # seconds, on the 2-core reference machine


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        sys.stderr.write(f"{name}={raw!r}: give a whole number of at least 1.\n")
        raise SystemExit(2)
    return int(raw)


def _run(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stderr of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def top_imports(stderr: str, count: int) -> list[tuple[int, str]]:
    """The top-level imports (no parent in the report) by cumulative microseconds."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith(" ") and not name.startswith("  "):  # one space: top level
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    runs, top = _env_int("BENCH_RUNS", 5), _env_int("BENCH_TOP", 12)
    load = os.getloadavg()
    env_note = "quiet" if load[0] < 1 else "NOT quiet: figures are pessimistic"
    command = [PYTHON, "manage.py", "help"]
    _run(command)  # warm the file cache
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, _stderr = _run(command)
        walls.append(wall)
        cpus.append(cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"bench-commands: load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"({env_note})"
    )
    print(
        f"manage.py help, median of {runs}: {wall:.2f} s wall, {cpu:.2f} s CPU "
        f"(runs: {', '.join(f'{w:.2f}' for w in walls)} s)"
    )
    print(f"target <= {TARGET} s: {'met' if wall <= TARGET else 'NOT met'}")
    _, _, report = _run([PYTHON, "-X", "importtime", "manage.py", "help"])
    print("top-level imports by cumulative time (python -X importtime, one run):")
    for micros, name in top_imports(report, top):
        print(f"  {micros / 1000:8.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
