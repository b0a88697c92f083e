"""funnel-pipeline: where applicants from under-represented groups drop out of police recruitment.

The top-level `assets/`, `sql/` and `expectations/` folders of the repository are
installed under this package (`funnel_pipeline.assets`, …; see pyproject.toml). When the
package is imported straight from a source checkout (e.g. `dagster … -m
funnel_pipeline.definitions` run from the repo root, which puts the checkout first on
sys.path), the same folders are found through the checkout root below, so the import
paths are identical in both cases.
"""

from pathlib import Path as _Path

_package_dir = _Path(__file__).resolve().parent
_checkout = _package_dir.parent
if not (_package_dir / "assets").is_dir() and (_checkout / "assets" / "__init__.py").is_file():
    __path__.append(str(_checkout))  # type: ignore[name-defined]
