"""The structure a force's own funnel needs (issue 14), checked so it stays that way:
no code names a stage or a characteristic, no import circle, every asset leads to its
SQL file by name, the registry of marts is the only list of marts."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from funnel_pipeline import marts
from funnel_pipeline.funnel_config import load_config

PACKAGE = REPO_ROOT / "funnel_pipeline"
#: where a stage or characteristic may be named: the configuration module and its
#: default file, and the synthetic *data* of the default demo (it writes that funnel's
#: events, so it must spell them; it is not pipeline logic)
ALLOWED = {PACKAGE / "funnel_config.py", PACKAGE / "default_funnel.toml", PACKAGE / "synthetic.py"}


def _code_files() -> list[Path]:
    files = [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "assets").glob("*.py"),
             *(REPO_ROOT / "sql").rglob("*.sql"), *(REPO_ROOT / "expectations").glob("*.json")]
    return [f for f in files if f not in ALLOWED and "__pycache__" not in f.parts]


def _vocabulary_words() -> set[str]:
    """Every stage, characteristic and group name of the default funnel (lower case;
    short and plain-English words such as 'Yes' or 'Other' excepted)."""
    config = load_config(None)
    words = {s.name for s in config.stages} | {c.name for c in config.characteristics}
    words |= {g for c in config.characteristics for g in c.groups if len(g) > 3}
    return {w.lower() for w in words} - {"other"}


def _sql_code(text: str) -> tuple[str, list[str]]:
    """(code without comments and literals, the literals) of a SQL text."""
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return re.sub(r"'[^']*'", "''", code), re.findall(r"'([^']*)'", code)


def _named(path: Path, words: set[str]) -> list[str]:
    """Where a file names a vocabulary word: a string literal that is exactly the word
    (Python constants but docstrings; SQL literals; suite JSON values), or in SQL code
    the word as an identifier (`a.sex`)."""
    text = path.read_text(encoding="utf-8")
    found: list[str] = []
    if path.suffix == ".py":
        tree = ast.parse(text)
        literals = [n.value for n in ast.walk(tree)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        found += [lit for lit in literals if lit.strip().lower() in words]
        return found
    sqls = [text] if path.suffix == ".sql" else _suite_sql(json.loads(text))
    for sql in sqls:
        code, literals = _sql_code(sql)
        found += [lit for lit in literals if lit.strip().lower() in words]
        found += [w for w in words if re.search(rf"(?<![\w]){re.escape(w)}(?!\w)", code,
                                                re.IGNORECASE)]
    return found


def _suite_sql(data: dict) -> list[str]:
    """The SQL of a suite file: its batch queries and every expectation's kwargs."""
    batch = data["meta"].get("batch", {})
    texts = [v for k, v in batch.items() if k in ("query", "query_when_all_new", "table")]
    for e in data["expectations"]:
        texts += [v for v in e["kwargs"].values() if isinstance(v, str)]
        texts += [v for v in e["kwargs"].values() if isinstance(v, list)
                  for v in v if isinstance(v, str)]
    return texts


def test_no_code_names_a_stage_or_a_characteristic():
    """Stages and characteristics are a force's configuration: the SQL joins config.*,
    Python reads the FunnelConfig; only funnel_config.py and its default file spell them."""
    words = _vocabulary_words()
    offenders = [f"{path.relative_to(REPO_ROOT)}: {name!r}"
                 for path in _code_files() for name in _named(path, words)]
    assert not offenders, "\n".join(offenders)


def test_the_checker_finds_a_stage_and_a_characteristic(tmp_path):
    """The test above can fail: it sees a spelled stage and a characteristic column."""
    sql = tmp_path / "x.sql"
    sql.write_text("SELECT a.sex FROM core.applications AS a WHERE stage = 'sift' -- sift\n")
    py = tmp_path / "x.py"
    py.write_text('"""assessment in prose is fine"""\nSTAGE = "Assessment"\n')
    words = _vocabulary_words()
    assert sorted(_named(sql, words)) == ["sex", "sift"]
    assert _named(py, words) == ["Assessment"]


def _imports(path: Path) -> set[str]:
    """funnel_pipeline modules a module imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_of(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("funnel_pipeline")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.rsplit(".", node.level)[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("funnel_pipeline"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def _module_of(path: Path) -> str:
    if path.parent == REPO_ROOT / "assets":
        return f"funnel_pipeline.assets.{path.stem}"
    rel = path.relative_to(REPO_ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def test_no_import_circle_in_the_package():
    files = [f for f in [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "assets").glob("*.py")]
             if "__pycache__" not in f.parts]
    modules = {_module_of(f): f for f in files}
    graph = {m: {t for t in _imports(f) if t in modules and t != m} for m, f in modules.items()}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in on_path:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in done:
                visit(nxt, [*path, nxt], on_path | {nxt}, done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], {start}, done)
    assert not cycles, "import circles: " + "; ".join(" → ".join(c) for c in cycles[:5])


def test_every_core_and_mart_asset_leads_to_its_sql_file_by_name():
    from funnel_pipeline.definitions import defs

    keys = [k.path for k in defs.resolve_asset_graph().get_all_asset_keys()]
    for layer, name in ((k[0], k[1]) for k in keys if k[0] in ("core", "marts")):
        assert (REPO_ROOT / "sql" / layer / f"{name}.sql").is_file(), f"{layer}/{name}"
    assert (REPO_ROOT / "sql" / "publish" / "annual_publication.sql").is_file()


@pytest.mark.parametrize("mart", [m.name for m in marts.MARTS])
def test_the_registry_is_the_list_of_marts(mart):
    """Each registered mart has its SQL file, its suite and its asset, and nothing else
    lists marts: a new mart is its SQL file plus one registry line."""
    from funnel_pipeline.definitions import defs

    assert (REPO_ROOT / "sql" / "marts" / f"{mart}.sql").is_file()
    assert (REPO_ROOT / "expectations" / f"mart_{mart}.json").is_file()
    keys = {tuple(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert ("marts", mart) in keys
    published = {f.stem for f in (REPO_ROOT / "sql" / "marts").glob("*.sql")}
    assert published - {m.name for m in marts.MARTS} == {
        *marts.INTERNAL_STEPS, "metric_columns", "fisher_p_values", "fisher_p_values_prune"}
