"""The DuckDB pool: one slot, so no two steps of any runs hold the warehouse file at once.

Why. DuckDB allows one writing process per file, and while it writes no other process
can even read it. The run queue (`concurrency.runs.max_concurrent_runs: 1`) keeps runs
of the schedule, the sensor and the UI apart, but runs started outside the queue
(`dagster job execute`, `funnel run` or `funnel rebuild` while the daemon runs a night)
used to meet only at the file lock: the second run's step waited inside DuckDB's lock
retries (`warehouse.connect`, 120 s) and then failed into the step retries. With every
step that opens the file in Dagster's pool `duckdb_warehouse` (limit 1: `pools:
default_limit: 1` in dagster.yaml, op granularity), the second run's step waits for the
slot instead, for as long as it takes, and the UI shows who holds it (Deployment →
Concurrency) and "blocked by pool" on the waiting run.

A slot is freed when its step ends. A run whose process was killed holds its slot until
it is marked failed (run monitoring, `run_health.py`) and the daemon's next poll after
`run_monitoring.free_slots_after_run_end_seconds` (10 s) frees it. Without a daemon the
`funnel` CLI does both before it starts a run (`run_health.fail_lost_runs`, then
`free_slots_of_finished_runs`); otherwise one killed run would hold the slot for ever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

#: the pool of every step that opens the DuckDB file (assets/*.py `pool=`)
WAREHOUSE_POOL = "duckdb_warehouse"


def free_slots_of_finished_runs(instance: DagsterInstance) -> list[str]:
    """Free the pool slots still held by runs that have ended (killed mid-step and since
    marked failed); returns those runs' ids. Slots of unfinished runs are never touched."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed
