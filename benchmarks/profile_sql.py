"""Time every SQL statement of a full build: where the pipeline's own SQL spends its time.

The benchmark times Dagster steps; this answers the next question, which statement
inside a step. It runs `pipeline.run_all` (the same SQL files the assets run: ingest,
core, marts, publication counts; no Dagster, no checks, no charts) into a new DuckDB
file, timing each statement of each SQL file, and prints the files and the slowest
statements. Run it on a landing folder the benchmark generated, e.g.::

    python benchmarks/profile_sql.py \
        --landing benchmarks/data/parquet_a3500000_s1/landing --work /tmp/profile

Statement texts are shortened SQL from this repository, never data. For an operator
level plan of one slow statement, run it with DuckDB's `EXPLAIN ANALYZE`.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import time
from pathlib import Path

from funnel_pipeline import pipeline, warehouse
from funnel_pipeline.settings import Settings

Timing = tuple[float, str, str]  # seconds, SQL file, statement head


def timed_run(settings: Settings) -> tuple[float, list[Timing]]:
    """Run the full build, timing each statement; (wall seconds, timings)."""
    timings: list[Timing] = []
    run_sql_file, ingest = warehouse.run_sql_file, pipeline.ingest

    def run_timed(con, relative_path: str, params=None) -> None:
        repeats = warehouse.repeat_counts(con)
        for statement, used in warehouse.bound_statements(relative_path, params, repeats):
            started = time.perf_counter()
            con.execute(statement, used) if used else con.execute(statement)
            head = " ".join(warehouse.without_comments(statement).split())[:90]
            timings.append((time.perf_counter() - started, relative_path, head))

    def ingest_timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return ingest(*args, **kwargs)
        finally:
            timings.append((time.perf_counter() - started, "ingest (landing → raw)", "raw.ingest"))

    warehouse.run_sql_file, pipeline.ingest = run_timed, ingest_timed
    try:
        started = time.perf_counter()
        pipeline.run_all(settings)
        return time.perf_counter() - started, timings
    finally:
        warehouse.run_sql_file, pipeline.ingest = run_sql_file, ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True,
                        help="folder for the DuckDB file, reports and spill (emptied first)")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--top", type=int, default=15)
    opts = parser.parse_args()
    shutil.rmtree(opts.work, ignore_errors=True)
    (opts.work / "tmp").mkdir(parents=True)
    settings = Settings(landing_dir=opts.landing, duckdb_path=opts.work / "funnel.duckdb",
                        reports_dir=opts.work / "reports", duckdb_memory_limit=opts.memory_limit,
                        duckdb_temp_dir=str(opts.work / "tmp"))
    wall, timings = timed_run(settings)
    by_file: dict[str, float] = collections.defaultdict(float)
    for seconds, path, _ in timings:
        by_file[path] += seconds
    print(f"full build without Dagster, checks or charts: {wall:.1f} s "
          f"({os.cpu_count()} CPUs, memory_limit {opts.memory_limit})")
    for path, seconds in sorted(by_file.items(), key=lambda item: -item[1]):
        print(f"  {seconds:6.1f} s  {path}")
    print("slowest statements:")
    for seconds, path, head in sorted(timings, reverse=True)[:opts.top]:
        print(f"  {seconds:6.1f} s  {path}: {head}")


if __name__ == "__main__":
    main()
