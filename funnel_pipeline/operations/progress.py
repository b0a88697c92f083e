"""A run's progress on the terminal: a few readable lines instead of Dagster's event stream.

Why. `execute_in_process` prints every event of the run through Dagster's console logger
(a nightly run on the demo data: 326 DEBUG lines, and a step's traceback for a
condition the run handles), so the lines a person needs (did it work, what was slow,
what to look at) scroll away. The `funnel` CLI silences that logger and follows the
run's event log instead, the same records the UI shows, from a background thread:

- on a terminal, one line that is rewritten in place: step i of n, its assets, seconds;
- a line for each step that took `LONG_STEP_SECONDS` or more, for a retry, for a step
  waiting for the DuckDB pool slot, and for each warning a step logged (e.g. a landing
  file that failed), so a log file keeps them;
- nothing else: the command prints the outcome and where the results are.

Every text from the run passes `inert.shorten` (one line, no control characters): a
landing file's name cannot move the cursor or colour the terminal.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self, TextIO

from funnel_pipeline import inert

if TYPE_CHECKING:
    import dagster as dg

#: a step that took at least this long gets a line of its own
LONG_STEP_SECONDS = 5.0
#: how often the event log is read
POLL_SECONDS = 0.25
#: how Dagster's engine event says a step waits for a pool slot (operations/pools.py)
POOL_BLOCKED = "Step blocked by limit for pool"
#: run config that silences Dagster's console logger (the event log keeps everything)
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def step_labels(assets: Iterable[dg.AssetsDefinition]) -> dict[str, str]:
    """What each step of an asset job builds, in a few words: its asset key when it
    builds one asset ("core/events"), else its group and count ("marts: 12 assets")."""
    labels: dict[str, str] = {}
    for definition in assets:
        keys = sorted(definition.keys, key=lambda k: k.to_user_string())
        if len(keys) == 1:
            labels[definition.node_def.name] = keys[0].to_user_string()
        elif keys:
            groups = sorted({definition.group_names_by_key[k] for k in keys})
            labels[definition.node_def.name] = f"{'+'.join(groups)}: {len(keys)} assets"
    return labels


@dataclass
class _State:
    done: int = 0
    current: str | None = None
    started_at: float = 0.0
    live_width: int = 0
    lines: list[str] = field(default_factory=list)
    #: steps already said to wait for the pool
    waiting: set[str] = field(default_factory=set)


class RunProgress:
    """Context manager: follow `run_id`'s event log and print its progress to `out`."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, job: dg.JobDefinition,
                 assets: Iterable[dg.AssetsDefinition], out: TextIO | None = None,
                 live: bool | None = None) -> None:
        self._instance = instance
        self._run_id = run_id
        steps = {node.name for node in job.graph.nodes}
        self._labels = {k: v for k, v in step_labels(assets).items() if k in steps}
        self._labels.update({name: name for name in steps - set(self._labels)})
        self._total = len(steps)
        self._out = out or sys.stdout
        self._live = self._out.isatty() if live is None else live
        self._state = _State()
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="funnel-progress", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._read()  # whatever arrived after the last poll
        self._clear_live()

    # --- reading ---------------------------------------------------------------------------

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._read()
            except Exception:  # noqa: BLE001, S112 - e.g. its event database not created yet
                continue
            self._draw_live()

    def _read(self) -> None:
        if not self._instance.has_run(self._run_id):
            return
        while True:
            page = self._instance.get_records_for_run(self._run_id, cursor=self._cursor,
                                                      limit=500)
            self._cursor = page.cursor
            for record in page.records:
                self._handle(record.event_log_entry)
            if not page.has_more:
                return

    def _handle(self, entry) -> None:  # an EventLogEntry
        event = entry.dagster_event
        if event is None:  # a message the step logged itself (context.log)
            if entry.level >= logging.WARNING and entry.user_message:
                where = self._labels.get(entry.step_key or "", entry.step_key or "run")
                self._print(f"  note ({where}): {inert.shorten(entry.user_message, 160)}")
            return
        step = event.step_key
        if event.event_type_value == "STEP_START":
            self._state.current, self._state.started_at = step, entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            self._state.done += 1
            seconds = entry.timestamp - self._state.started_at if step == self._state.current else 0
            outcome = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED",
                       "STEP_SKIPPED": "skipped"}[event.event_type_value]
            if outcome != "done" or seconds >= LONG_STEP_SECONDS:
                self._print(self._step_line(step, outcome, seconds))
            self._state.current = None
        elif (event.event_type_value == "ENGINE_EVENT" and step not in self._state.waiting
              and (event.message or "").startswith(POOL_BLOCKED)):
            self._state.waiting.add(step)
            self._print(f"  {self._labels.get(step, step)}: waiting for the DuckDB file "
                        "(another run holds the pool slot)")
        elif event.event_type_value == "STEP_UP_FOR_RETRY":
            wait = getattr(event.event_specific_data, "seconds_to_wait", None)
            self._print(f"  {self._labels.get(step, step)}: failed, retrying"
                        + (f" in {wait:.0f} s" if wait else ""))
            self._state.current = None

    # --- writing ---------------------------------------------------------------------------

    def _step_line(self, step: str | None, outcome: str, seconds: float) -> str:
        label = self._labels.get(step or "", step or "")
        width = max((len(v) for v in self._labels.values()), default=0)
        return (f"  [{self._state.done:>{len(str(self._total))}}/{self._total}] "
                f"{label:<{width}}  {outcome:<7} {seconds:6.1f} s")

    def _print(self, line: str) -> None:
        self._clear_live()
        self._state.lines.append(line)
        print(line, file=self._out, flush=True)

    def _draw_live(self) -> None:
        if not self._live or self._state.current is None:
            return
        label = self._labels.get(self._state.current, self._state.current)
        seconds = time.time() - self._state.started_at
        text = (f"  [{self._state.done + 1}/{self._total}] {label} ... {seconds:.0f} s")
        self._out.write("\r" + text.ljust(self._state.live_width))
        self._out.flush()
        self._state.live_width = len(text)

    def _clear_live(self) -> None:
        if self._live and self._state.live_width:
            self._out.write("\r" + " " * self._state.live_width + "\r")
            self._out.flush()
            self._state.live_width = 0

    @property
    def lines(self) -> list[str]:
        """The lines printed (for the command's summary and for tests)."""
        return list(self._state.lines)
