"""A force's own funnel (CONTRACT.md section 8): the built-in default is section 2, every
rule a bad file breaks stops with the file, the key and the problem, and the SQL maps
delivered values by the configured vocabulary (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import FIXTURES, REPO_ROOT

from funnel_pipeline import vocabulary, warehouse
from funnel_pipeline.funnel_config import ConfigError, describe, load_config, parse_config

DEFAULT_FILE = FIXTURES / "funnel.default.toml"
CUSTOM_FILE = FIXTURES / "funnel.custom.toml"


# --- the default is section 2 ------------------------------------------------------------


def test_built_in_default_is_contract_section_2():
    built_in = load_config(None)
    assert built_in.sha256 == load_config(DEFAULT_FILE).sha256  # the shared example file
    assert [(s.name, s.aliases) for s in built_in.stages] == [
        ("application", ("apply", "applied")),
        ("sift", ("paper sift", "application sift", "shortlisting")),
        ("assessment", ("search", "online assessment", "assessment centre", "assessment center",
                        "oac")),
        ("vetting", ("vetting check", "security vetting")),
        ("appointment", ("appointed", "offer", "appointment offer"))]
    assert dict(built_in.outcomes) == {"passed": ("pass", "successful", "success"),
                                       "failed": ("fail", "unsuccessful"),
                                       "withdrawn": ("withdrew", "withdraw", "withdrawal")}
    assert [(c.name, c.kind, c.all_groups, c.reference_group)
            for c in built_in.characteristics] == [
        ("sex", "delivered", ("Male", "Female", "Not stated"), "Male"),
        ("ethnicity", "delivered", ("White", "Asian", "Black", "Mixed", "Other", "Not stated"),
         "White"),
        ("ethnic_minority", "derived", ("No", "Yes", "Not stated"), "No"),
        ("disability", "delivered", ("No", "Yes", "Not stated"), "No"),
        ("sexual_orientation", "delivered",
         ("Heterosexual", "Gay or Lesbian", "Bisexual", "Other", "Not stated"), "Heterosexual"),
        ("lgbt_plus", "derived", ("No", "Yes", "Not stated"), "No")]
    assert [f"{a.name} x {b.name}" for a, b in built_in.intersections] == [
        "sex x ethnic_minority", "sex x disability", "sex x lgbt_plus",
        "ethnic_minority x disability", "ethnic_minority x lgbt_plus", "disability x lgbt_plus"]
    ethnicity = built_in.characteristic("ethnicity")
    assert dict(ethnicity.prefixes) == {"white": "White", "asian": "Asian", "black": "Black",
                                        "mixed": "Mixed", "other ethnic group": "Other"}
    assert ethnicity.spellings["arab"] == "Other"
    assert built_in.sift_stage.name == "sift" and built_in.final_stage.name == "appointment"


def test_labels_do_not_change_what_the_tables_mean():
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    relabelled = text.replace('name = "sift"', 'name = "sift"\nlabel = "Paper sift"', 1)
    assert parse_config(relabelled, "x").sha256 == parse_config(text, "x").sha256
    changed = text.replace('aliases = ["apply", "applied"]', 'aliases = ["apply"]')
    assert parse_config(changed, "x").sha256 != parse_config(text, "x").sha256


def test_check_config_prints_the_funnel_for_review():
    done = subprocess.run([sys.executable, "-m", "funnel_pipeline.cli", "check-config",
                           str(CUSTOM_FILE)], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "4. interview (Interview); also: final interview, panel interview" in out
    assert "7. appointment" in out and "final stage" in out
    assert "age_band (Age band; age bands from column 'date_of_birth'; intersectional)" in out
    assert "groups: Under 25, 25 to 34*, 35 and over, Not stated" in out
    assert "The configuration is valid." in out
    assert describe(load_config(CUSTOM_FILE)) in out


# --- one test per bad-configuration rule ----------------------------------------------------

_STAGES = '[[stage]]\nname = "application"\n[[stage]]\nname = "sift"\naliases = ["paper sift"]\n'
_SEX = ('[[characteristic]]\nname = "sex"\ngroups = ["Male", "Female"]\n'
        'synonyms = { f = "Female" }\n')
_GOOD = _STAGES + _SEX


def _bad(text: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "force.toml")
    message = str(caught.value)
    assert message.startswith("force.toml: "), message
    assert key in message and problem in message, message


def test_the_good_base_file_is_valid():
    config = parse_config(_GOOD, "force.toml")
    assert [s.name for s in config.stages] == ["application", "sift"]


@pytest.mark.parametrize(("text", "key", "problem"), [
    (_GOOD + "colour = 'blue'\n", "colour", "unknown key"),
    (_GOOD.replace('name = "sift"', 'name = "sift"\nkind = "x"'), "stage[2].kind", "unknown key"),
    (_GOOD + 'label_colour = "x"\n'.replace("label_colour", "[publication]\ncolour"),
     "publication.colour", "unknown key"),
    (_GOOD.replace('groups = ["Male", "Female"]', 'groups = ["Male", "Female"]\ncolumns = "x"'),
     "characteristic[1] (sex).columns", "unknown key"),
])
def test_unknown_key(text, key, problem):
    _bad(text, key, problem)


@pytest.mark.parametrize(("text", "key"), [
    (_STAGES.replace('name = "sift"\naliases = ["paper sift"]',
                     'name = "sift"\naliases = [" Application "]') + _SEX,
     "stage[2] (sift).aliases"),
    (_GOOD + '[outcomes]\nfailed = ["fail", "pass"]\n', "outcomes"),
    (_GOOD.replace('synonyms = { f = "Female" }', 'synonyms = { f = "Female", male = "Female" }'),
     "characteristic[1] (sex).synonyms"),
    (_GOOD.replace('synonyms = { f = "Female" }', 'synonyms = { unknown = "Female" }'),
     "characteristic[1] (sex).synonyms"),
])
def test_a_spelling_claimed_twice(text, key):
    _bad(text, key, "claimed twice")


def test_duplicate_group():
    _bad(_GOOD.replace('["Male", "Female"]', '["Male", "Female", "female "]'),
         "characteristic[1] (sex).groups", "duplicate group")


def test_duplicate_characteristic():
    _bad(_GOOD + _SEX.replace('"sex"', '"SEX"'), "characteristic[2] (SEX).name",
         "duplicate characteristic")


@pytest.mark.parametrize("name", ["all", "ALL", "sex x age"])
def test_reserved_characteristic_names(name):
    _bad(_STAGES + _SEX.replace('"sex"', f'"{name}"'), f"characteristic[1] ({name}).name",
         "cannot be a characteristic")


@pytest.mark.parametrize("group", ["Not stated", "all"])
def test_not_stated_or_all_as_a_group(group):
    _bad(_STAGES + _SEX.replace('"Female"]', f'"Female", "{group}"]'),
         "characteristic[1] (sex).groups", "cannot be a group")


def test_reference_group_not_a_group():
    _bad(_GOOD + 'reference_group = "Woman"\n', "characteristic[1] (sex).reference_group",
         "not one of its groups")


def test_mapped_group_not_a_group():
    derived = ('[[characteristic]]\nname = "women"\nderived_from = "sex"\ngroups = ["Yes", "No"]\n'
               'map = { Male = "No", Female = "Maybe" }\n')
    _bad(_GOOD + derived, "characteristic[2] (women).map.Female", "not one of its groups")
    _bad(_GOOD.replace('synonyms = { f = "Female" }', 'synonyms = { f = "Feminine" }'),
         "characteristic[1] (sex).synonyms.f", "not one of its groups")


def test_incomplete_map():
    derived = ('[[characteristic]]\nname = "women"\nderived_from = "sex"\ngroups = ["Yes", "No"]\n'
               'map = { Female = "Yes" }\n')
    _bad(_GOOD + derived, "characteristic[2] (women).map", "incomplete: it does not map Male")


def test_bands_must_increase_and_the_last_has_no_below():
    age = ('[[characteristic]]\nname = "age"\nborn_on = "dob"\nbands = [ {{ group = "Young", '
           'below = {a} }}, {{ group = "Mid", below = {b} }}, {{ group = "Old"{last} }} ]\n')
    _bad(_GOOD + age.format(a=30, b=30, last=""), "characteristic[2] (age).bands[2].below",
         "does not increase")
    _bad(_GOOD + age.format(a=30, b=40, last=", below = 50"),
         "characteristic[2] (age).bands[3].below", "the last band must have no 'below'")


def test_derived_characteristic_of_a_derived_one():
    derived = ('[[characteristic]]\nname = "women"\nderived_from = "sex"\ngroups = ["Yes", "No"]\n'
               'map = { Male = "No", Female = "Yes" }\n')
    twice = derived.replace('"women"', '"men"').replace('"sex"', '"women"').replace(
        "map = { Male = \"No\", Female = \"Yes\" }", 'map = { Yes = "No", No = "Yes" }')
    _bad(_GOOD + derived + twice, "characteristic[3] (men).derived_from", "itself derived")


def test_sift_stage_that_is_not_a_stage():
    _bad(_GOOD + '[publication]\nsift_stage = "interview"\n', "publication.sift_stage",
         "'interview' is not a stage")
    config = parse_config(_GOOD + '[publication]\nsift_stage = "Paper Sift"\n', "force.toml")
    assert config.sift_stage.name == "sift"  # any spelling of a stage names it


def test_structural_problems_name_their_key():
    _bad('[[stage]]\nname = "application"\n' + _SEX, "stage", "at least two")
    _bad(_STAGES, "characteristic", "at least one")
    _bad(_GOOD + "[[stage\n", "", "not valid TOML")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Path("/nonexistent/funnel.toml"))


# --- the SQL reads the configured vocabulary ------------------------------------------------

_CASES = [
    ("sex", "F", "Female"), ("sex", " woman ", "Female"), ("sex", "MAN", "Male"),
    ("sex", "Prefer not to say", "Not stated"), ("sex", "", "Not stated"),
    ("sex", "nonbinary", None),
    ("ethnicity", "White: English, Welsh, Scottish, Northern Irish or British", "White"),
    ("ethnicity", "Asian or Asian British: Indian", "Asian"),
    ("ethnicity", "Other ethnic group: Arab", "Other"), ("ethnicity", "Arab", "Other"),
    ("ethnicity", "other", "Other"), ("ethnicity", "Whiteish", None),
    ("ethnicity", "white", "White"), ("ethnicity", "Unknown", "Not stated"),
    ("disability", "yes", "Yes"), ("disability", "Y", None),
    ("sexual_orientation", "gay woman", "Gay or Lesbian"),
]


@pytest.fixture(scope="module")
def default_vocabulary(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    path = tmp_path_factory.mktemp("vocabulary") / "v.duckdb"
    con = duckdb.connect(str(path))
    warehouse.prepare(con)
    vocabulary.apply_config(con, load_config(None), run_id=None)
    warehouse.run_sql_file(con, "macros.sql")
    yield con
    con.close()


@pytest.mark.parametrize(("characteristic", "value", "group"), _CASES)
def test_sql_maps_values_by_the_configured_vocabulary(default_vocabulary, characteristic,
                                                      value, group):
    got = default_vocabulary.execute("SELECT recognised_group(?, ?)",
                                     [characteristic, value]).fetchall()[0][0]
    assert got == group


def test_the_longest_prefix_wins_and_prefixes_are_text_not_patterns(tmp_path):
    text = (_STAGES + '[[characteristic]]\nname = "faith"\ngroups = ["Christian", "Other"]\n'
            'prefixes = { christian = "Christian", "christian (other" = "Other", "c.?" = "Other" }\n')
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    warehouse.prepare(con)
    vocabulary.apply_config(con, parse_config(text, "f.toml"), run_id=None)
    warehouse.run_sql_file(con, "macros.sql")
    def group(value: str) -> str | None:
        return con.execute("SELECT recognised_group('faith', ?)", [value]).fetchall()[0][0]

    assert group("Christian - Catholic") == "Christian"
    assert group("Christian (other denomination)") == "Other"  # longest prefix
    assert group("Christianity") is None  # a letter follows the prefix
    assert group("cx") is None  # "c.?" is literal text, not a regular expression
    assert group("c.?") == "Other"
