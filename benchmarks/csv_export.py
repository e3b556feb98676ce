"""Export one contract's codes CSV and measure it: ``csv_export.py CONTRACT_ID PATH``.

Run in a fresh process by ``codes_at_scale.py`` so the peak resident memory (``VmHWM``) belongs to
the export: the baseline is taken after Django is set up and connected, just before the export.
Prints one JSON object: seconds, rows, queries, baseline_mb, peak_mb.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> None:
    contract_id, path = int(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from b2b.models import ContractPage
    from b2b.services.codes import codes_csv_write

    contract = ContractPage.objects.get(pk=contract_id)
    baseline = _status_mb("VmRSS")
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        rows = codes_csv_write(contract, path)
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "queries": len(queries),
                "baseline_mb": baseline,
                "peak_mb": _status_mb("VmHWM"),
            }
        )
    )


if __name__ == "__main__":
    main()
