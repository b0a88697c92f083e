"""The repository's documents hold together: links resolve, contract citations name
sections that exist, every setting is documented.

Why: code comments, check descriptions and the summary cite "CONTRACT.md section N",
and the README and docs/ link to each other; a renamed heading or a renumbered section
would otherwise leave readers (auditors above all) at a dead end without anyone noticing.
Pure file reading: no database, no Dagster.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT / "docs" / "CONTRACT.md"
DOCUMENTS = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
#: where citations of the contract live: the package, the assets, the SQL, the suites
CITING_FILES = sorted(
    p for pattern in ("funnel_pipeline/**/*.py", "funnel_pipeline/**/*.toml", "assets/**/*.py",
                      "sql/**/*.sql", "expectations/*.json")
    for p in REPO_ROOT.glob(pattern))
SETTINGS_FILE = REPO_ROOT / "funnel_pipeline" / "settings.py"
SETTINGS_DOCUMENTS = (REPO_ROOT / "README.md", REPO_ROOT / "docs" / "OPERATIONS.md")

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
#: "section 5", "sections 6 and 9", "sections 2-4, 6, 8", "§1.2", "§7, §10"
_CITATION = re.compile(
    r"(?:\bsections?|§)\s*(\d+(?:\.\d+)?(?:\s*(?:,|and|&|–|-|to|§)\s*(?:§\s*)?\d+(?:\.\d+)?)*)",
    re.IGNORECASE)
#: every variable settings.py names (as `_env("FUNNEL_…"` or as a field's metadata)
_ENV_NAME = re.compile(r"[\"'](FUNNEL_[A-Z0-9_]+)[\"']")


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks and inline code (links there are examples)."""
    return _INLINE_CODE.sub("", _FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed
    (letters, digits, `_`, `-` and spaces kept), spaces → `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.strip().replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading anchor of a document (repeats get GitHub's `-1`, `-2`, …)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        base = slug(heading)
        n = seen.get(base, 0)
        result.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return result


def broken_links(document: Path) -> list[str]:
    """Relative links of a markdown file that lead to no file, or to no heading there."""
    problems = []
    for target in _LINK.findall(_prose(document.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto: — not ours to check offline
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(
                linked.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    return problems


def contract_sections(markdown: str) -> set[str]:
    """Section numbers of the contract page: headings `## 5. …`, `### 1.2 …`."""
    return {m.group(1) for m in re.finditer(r"^#{2,3}\s+(\d+(?:\.\d+)?)\.?\s", markdown,
                                            re.MULTILINE)}


def cited_sections(text: str) -> list[str]:
    """Every section number a text cites, ranges expanded ("sections 2-4" → 2, 3, 4)."""
    cited: list[str] = []
    for group in _CITATION.findall(text):
        numbers = re.findall(r"\d+(?:\.\d+)?", group)
        cited += numbers
        for start, end in re.findall(r"(\d+)\s*(?:–|-|to)\s*(\d+)(?!\.\d)", group):
            cited += [str(n) for n in range(int(start) + 1, int(end))]
    return cited


def documented_settings() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in SETTINGS_DOCUMENTS)


# --- the checkers find what they should (so a pass means something) ----------------------


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Its part: one\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok too](other.md#its-part-one) [self](#a-heading) [web](https://x.org/y)\n"
        "[gone](missing.md) [no anchor](other.md#nowhere) ![img](pic.png)\n"
        "`[in code](nope.md)`\n```\n[in a block](nope.md)\n```\n# A heading\n",
        encoding="utf-8")
    assert broken_links(page) == ["missing.md: no such file",
                                  "other.md#nowhere: no heading #nowhere in other.md",
                                  "pic.png: no such file"]


def test_anchors_follow_githubs_rules():
    text = "## 5. Metrics: `marts.stage_pass_rates`\n## A force's own funnel\n## Repeat\n## Repeat\n"
    assert anchors(text) == {"5-metrics-martsstage_pass_rates", "a-forces-own-funnel",
                             "repeat", "repeat-1"}


def test_the_citation_reader_expands_lists_and_ranges():
    text = ("CONTRACT.md sections 2-4, 6, 8 and 9; §1.2; CONTRACT.md §7, §10. "
            "section 5 of docs/CONTRACT.md; sections 9 and 10")
    assert cited_sections(text) == ["2", "4", "6", "8", "9", "3", "1.2", "7", "10", "5",
                                    "9", "10"]


# --- the repository's own documents --------------------------------------------------------


def test_the_contract_page_has_every_section_of_the_binding_contract():
    sections = contract_sections(CONTRACT.read_text(encoding="utf-8"))
    assert sections >= {*(str(n) for n in range(1, 11)), "1.1", "1.2"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_resolves(document):
    assert broken_links(document) == []


def test_every_contract_citation_names_a_section_that_exists():
    sections = contract_sections(CONTRACT.read_text(encoding="utf-8"))
    assert len(CITING_FILES) > 50  # the globs still find the code
    wrong = [f"{path.relative_to(REPO_ROOT)}: section {number}"
             for path in CITING_FILES
             for number in cited_sections(path.read_text(encoding="utf-8"))
             if number not in sections]
    assert wrong == []


def test_code_cites_the_contract_by_its_path_in_the_repository():
    """`CONTRACT.md` alone names no file a reader can open; `docs/CONTRACT.md` does."""
    bare = [f"{path.relative_to(REPO_ROOT)}:{n}"
            for path in CITING_FILES
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"(?<![\w/])CONTRACT(?:\.md)?\b", line)]
    assert bare == []


def test_every_setting_is_documented():
    names = sorted(set(_ENV_NAME.findall(SETTINGS_FILE.read_text(encoding="utf-8"))))
    assert len(names) > 20  # the pattern still finds how settings.py names them
    text = documented_settings()
    assert [n for n in names if not re.search(rf"\b{n}\b", text)] == []
