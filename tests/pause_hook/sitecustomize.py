"""TEST-ONLY: make a real run stop, mid-transaction, where a kill test wants to kill it.

Imported at interpreter start-up when this folder is on PYTHONPATH (tests/ops_helpers.py
`funnel_env(..., FUNNEL_TEST_PAUSE_AT=point)` puts it there), so the production code has no
test hook at all. With FUNNEL_TEST_PAUSE_AT set, every warehouse connection is wrapped:
just before a COMMIT, the step writes the marker file `<duckdb file>.paused-<point>` and
sleeps, holding its transaction open:

- `ingest`: before committing the 2nd landing file this connection copied (the 1st is in);
- `marts`: after the marts were replaced in the publish (swap) transaction.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

POINT = os.environ.get("FUNNEL_TEST_PAUSE_AT", "")


class _Pausing:
    def __init__(self, con, marker: Path) -> None:
        self._con = con
        self._marker = marker
        self._pending: list[str] = []
        self._copied = 0

    def execute(self, sql, *args, **kwargs):
        text = sql.strip().upper() if isinstance(sql, str) else ""
        if text.startswith("COMMIT"):
            copied = any(re.match(r"INSERT INTO RAW\.\w+_ROWS", q) for q in self._pending)
            self._copied += copied
            if ((POINT == "ingest" and copied and self._copied == 2)
                    or (POINT == "marts" and any(q.startswith("CREATE OR REPLACE TABLE MARTS.")
                                                 for q in self._pending))):
                self._marker.write_text(POINT)
                time.sleep(600)
            self._pending = []
        elif text:
            self._pending.append(text)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _install() -> None:
    from contextlib import contextmanager

    from funnel_pipeline import warehouse

    original = warehouse.connect

    @contextmanager
    def connect(path, *args, read_only: bool = False, **kwargs):
        with original(path, *args, read_only=read_only, **kwargs) as con:
            yield con if read_only else _Pausing(con, Path(f"{path}.paused-{POINT}"))

    warehouse.connect = connect


if POINT in ("ingest", "marts"):
    _install()
