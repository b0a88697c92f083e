"""The publication export opens in a real spreadsheet program (LibreOffice, headless)."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES

from funnel_pipeline import pipeline
from funnel_pipeline.publish.publication import export_publication

COUNT_COLUMNS = ("applicants", "sifted", "progressed_to_assessment", "appointed",
                 "failed_at_final_stage")


@pytest.mark.slow
def test_xlsx_export_converts_in_libreoffice_with_suppression(make_settings, tmp_path: Path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is missing: run scripts/install-system-deps.sh"
    settings = make_settings(FIXTURES / "optional-landing")
    pipeline.run_all(settings)
    paths = export_publication(settings)
    out = tmp_path / "converted"
    proc = subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
         "--convert-to", "csv", "--outdir", str(out), str(paths["xlsx"])],
        check=False, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    (converted,) = out.glob("*.csv")
    rows = list(csv.DictReader(converted.open(encoding="utf-8")))
    assert rows, "the first sheet converted to an empty table"
    counts = [row[c] for row in rows for c in COUNT_COLUMNS]
    assert "[c]" in counts, "primary suppression marks should survive the conversion"
    # no exported count is from 1 to 4 (threshold 5)
    assert not any(re.fullmatch(r"[1-4]", cell.strip()) for cell in counts)
