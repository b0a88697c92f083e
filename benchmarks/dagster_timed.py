"""`dagster` CLI with the data-quality checks timed (benchmark measurement only).

Runs exactly `dagster <args>`, after wrapping `funnel_pipeline.quality.checks.run_checks`
so that each call appends {"assets": [...], "seconds": s} as a JSON line to the file
named by FUNNEL_BENCH_CHECK_TIMES. The checks run inside the asset steps, so this is how
run_benchmark.py separates their share from the step's own work. Nothing else changes.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _install() -> None:
    target = os.environ.get("FUNNEL_BENCH_CHECK_TIMES")
    if not target:
        return
    try:
        from funnel_pipeline.quality import checks
    except ImportError:  # no checks wired in this version of the pipeline
        return
    original = getattr(checks, "run_checks", None)
    if original is None:
        return

    def timed(settings, asset_keys, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(settings, asset_keys, *args, **kwargs)
        finally:
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps({"assets": [k.to_user_string() for k in asset_keys],
                                      "seconds": time.perf_counter() - started}) + "\n")

    checks.run_checks = timed


if __name__ == "__main__":
    _install()
    from dagster._cli import main

    sys.argv[0] = "dagster"
    sys.exit(main())
