"""Prepare a Dagster instance once, before the daemon and the webserver open it.

Why: on a new SQLite `DAGSTER_HOME`, every process that opens the instance first creates
its databases (runs.db, the event-log index, schedules.db) and stamps their schema
version. Two processes doing that at the same instant collide: one fails with
`table secondary_indexes already exists` or `UNIQUE constraint failed:
alembic_version.version_num` and exits. systemd starts `dagster-daemon` and
`dagster-webserver` at the same time after a reboot, so on a fresh machine one of them
could fail its first start.

The fix: `funnel prepare-instance` (each unit's `ExecStartPre=`, and `funnel ui` before
`dagster dev`) takes an exclusive lock on `$DAGSTER_HOME/.funnel-instance.lock`, copies
`dagster.yaml` in if it is missing, and opens every storage once, which creates what is
missing. The second caller waits for the lock and then finds everything in place, in
well under a second. Afterwards concurrent processes only read and write rows, which
SQLite serialises on its own.

(With PostgreSQL storage the same lock serialises the processes of one machine; the
schema of a new database is best created once by hand with the first start of one
process, or `dagster instance migrate`, before several machines share it.)
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

#: the lock file, inside DAGSTER_HOME (a hidden name: Dagster ignores it)
LOCK_NAME = ".funnel-instance.lock"
#: longest wait for another process preparing the same instance
DEFAULT_LOCK_TIMEOUT_S = 300.0


def _lock(handle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{handle.name} stayed locked for {timeout:.0f} s: another "
                                   "process is preparing this Dagster instance") from None
            time.sleep(0.05)


def _copy_atomically(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def prepare_instance(home: Path, dagster_yaml: Path | None = None,
                     timeout: float = DEFAULT_LOCK_TIMEOUT_S) -> Path:
    """Create `home`'s instance storage under an exclusive lock; return the home.

    `dagster_yaml` is copied to `home/dagster.yaml` if that is missing (atomically, so a
    process that does not take the lock never reads half a file). Safe to call any
    number of times, from any number of processes at once.
    """
    import dagster as dg

    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK_NAME).open("a+") as handle:
        _lock(handle, timeout)
        try:
            target = home / "dagster.yaml"
            if not target.exists() and dagster_yaml is not None and Path(dagster_yaml).is_file():
                _copy_atomically(Path(dagster_yaml), target)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                # each call opens (and so creates) one storage's database
                instance.get_runs(limit=1)                               # runs.db
                instance.daemon_cursor_storage.get_cursor_values({"funnel/prepared"})
                instance.get_daemon_heartbeats()
                instance.all_instigator_state()                          # schedules.db
                instance.get_latest_materialization_event(dg.AssetKey(["funnel", "prepared"]))
                instance.get_asset_keys(limit=1)                         # event-log index
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return home
