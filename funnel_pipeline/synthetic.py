"""Synthetic landing folders: a realistic demo and a benchmark, generated set-based in DuckDB.

`generate_landing(target, applicants=5000, seed=42)` writes a landing folder that follows
docs/CONTRACT.md (sections 1, 2, 3, 6 and 9) for a fictional police force.
`generate_landing(..., config=FILE)` does the same for a force's own funnel (section 8:
any stages, outcome aliases and characteristics, derived ones and age bands); see "A
force's own funnel" below. Without `config` (or with the built-in default) the output is
the default force's, exactly as before configured funnels existed, plus the leavers file.
All data is synthetic: ids are pseudonymous (`P00001234`, `E0000001231`), there are no
names or emails, and no row describes a real person.

How it is generated
-------------------
Everything is set-based DuckDB SQL: people come from `range(n)`, applications from a
cross join with `range(2)`, events from `unnest(range(1, n_events + 1))` (one row per
stage reached), and files are written with `COPY ... TO` (CSV or Parquet). No Python
loop touches a row. Every random draw is `hash(hash(seed, id, salt))` scaled to [0, 1),
never `random()`, so the output depends only on the seed and the size, not on thread
scheduling. CSV files are byte-for-byte reproducible; Parquet files hold the same rows
in the same order. DuckDB runs with a memory limit (2 GB by default) and spills to a
temporary folder, so the benchmark size (3.5 million applicants, ~10 million events)
needs no more memory than the demo's code path.

The force
---------
Nine campaigns 2022-2025 over four entry routes (`CAMPAIGNS`: PCDA, DHEP, Police Now,
Transferee); campaign ids such as `2022-Police Now, Detective-3` contain a comma, so
CSV quoting (RFC 4180) matters. About 3% of people apply again to a later campaign (an
application is the pair applicant x campaign). Applicant mix, roughly as in published
police-recruitment data: ~60% male, ~18% ethnic minority (Asian 8%, Black 5%, Mixed
3.5%, Other 1.2%), ~8% disabled, ~6% LGB+, and some not stated on each. Values use a
mix of spellings: detailed ONS labels (`Asian or Asian British: Indian`, `Black, Black
British, Caribbean or African: African`, `Other ethnic group: Arab`, ...), high-level
labels (`White`, `Mixed`), `F`/`M`/`Woman`, `Straight`/`Gay man`/`Lesbian`, upper and
lower case, `Prefer not to say`, `Not stated` and blanks. The applicants files carry an
extra column, `age_band`.

Each application moves through application -> sift -> assessment -> vetting ->
appointment. At each stage a share withdraws, the rest pass with the stage's base
probability (`STAGE_MODEL`) times the group multipliers below. Stages are days to
weeks apart (a fixed minimum plus an exponential tail). Events after the data cut-off
(`DATA_CUTOFF`, 2025-06-30) are not delivered, so the latest campaign still has
applicants pending. Stages and outcomes are spelled with aliases and odd case and
white space (`" SIFT"`, `SEARCH`, `Online Assessment`, `PASSED`, `successful`,
`withdrew`); `occurred_at` mixes `...Z`, `...+01:00` / `+00:00` (UK local time),
`YYYY-MM-DD HH:MM:SS` and bare dates.

Planted disparities (`PLANTED_DISPARITIES`; each is flagged -- adverse-impact ratio
< 0.8 and Fisher p < 0.05 -- in `marts.stage_pass_rates` at the demo size of 5,000)
-------------------------------------------------------------------------------------
* assessment (the SEARCH / assessment centre stage): before the intervention Black
  applicants pass at 0.50x and Asian applicants at 0.55x the White rate (Mixed 0.80x,
  Other 0.75x). Over the whole period, with the intervention, that comes to about
  0.59x (Black), 0.63x (Asian) and 0.66x (ethnic minority, all groups together).
* sift: disabled applicants pass at 0.70x the rate of non-disabled applicants.

Measured over 40 seeds at 5,000 applicants, every one of these was flagged for every
seed (worst adverse-impact ratios 0.75, 0.75, 0.74, 0.78), and women at assessment
(below) never were.

Differences that are planted but are *not* meant to be flagged (`SUBTHRESHOLD_EFFECTS`):
women pass the assessment stage (it includes the fitness test) at 0.90x the male rate,
and vetting takes ethnic-minority applicants 1.5x as long (a duration gap, visible in
`marts.stage_durations`, not a pass-rate gap).

The intervention
----------------
`INT-1` "Positive action assessment coaching" (stage assessment, every campaign, from
`INTERVENTION_START` = 2024-01-01, no end): assessment outcomes on or after that date
have the ethnic-minority gap halved (Black 0.50x -> 0.75x, Asian 0.55x -> 0.775x, ...),
so `marts.intervention_effects` shows ethnic-minority pass rates rising while White
rates stay flat. `INT-2` is a campaign-limited mentoring pilot with an end date and no
planted effect (a null result).

Bad input (`dirty=True`; each kind a handful of rows, counted in `GenerationSummary.planted`)
---------------------------------------------------------------------------------------------
`blank_required` (one row per required column blank), `unknown_stage` (`interview`,
`Fitness test`, `Medical`), `unknown_outcome` (`pending`, `on hold`, `deferred`),
`bad_timestamp` (`31/02/2021`, `yesterday`, `2023-02-30`, `13/05/2023 09:00`),
`conflicting_duplicate` (a real sift event's id again with another outcome, so both
copies are rejected), `identical_redelivered_file` (the first events file again as
`events_<year>_1_resend.*`), `orphan_application` (applications whose application
event is missing), `no_applicant_row` (people left out of the applicants files),
`out_of_sequence` (a vetting pass after a failed assessment), `superseding_appeal` (a
later vetting pass after a vetting fail), `unrecognised_characteristic` (`Mael`,
`Whte: British`, `N/K`, `Hetrosexual`), `applicant_repeated_in_file` (an applicants row
repeated later in the same file with new values), `garbage_file` (`events_garbage.csv`),
and one rejected row in each optional file (`campaigns_bad_row`, `population_bad_row`,
`interventions_bad_row`). Always present, because they are valid input:
`redelivered_applicant` (people re-delivered in `applicants_02` with changed values --
the later file wins), one events CSV with a UTF-8 BOM, CRLF line endings and
upper-cased, reordered headers (when any events are written as CSV), and quoted
campaign ids. With `dirty=False` every event row is
valid, which is what the benchmark uses.

Files
-----
`applicants_01`, `applicants_02`; `events_<campaign year>_<n>` (split every
`events_per_file` events, default 1,000,000); `campaigns.csv` (one campaign,
`2025-DHEP-9`, deliberately missing so its route is Unknown), `population.csv`
(synthetic local working-age shares, summing to 1 per characteristic),
`interventions.csv` and `leavers_01.csv` when `optional_files=True`. `fmt="csv"` writes CSV, `"parquet"`
Parquet (all columns VARCHAR, as a source extract would be), and `"both"` a mixed
folder: `applicants_01.csv` + `applicants_02.parquet`, events files alternating CSV and
Parquet. The optional files are always CSV.

Files are written into a hidden folder inside `target` (`.synthetic-tmp-*`, skipped by
the landing loader) and renamed into place when complete.

Leavers (docs/CONTRACT.md section 9; every funnel)
----------------------------------------------
`leavers_01.csv` (`applicant_id,left_on,reason`): a recruit (an application passed at the
final stage) leaves in its first, second or third year with probability
`LEAVING_BY_YEAR` (15%, 8%, 6%: about a quarter within three years), at least 7 days
after its start; leavings after the data cut-off are not in the file (censored).
`left_on` is a bare date for half the rows, otherwise `...Z` or `YYYY-MM-DD HH:MM:SS`;
`reason` is kept by the pipeline and never published. The planted retention gap
(`planted_retention_gap`): women recruits (a configured funnel: the group of the
middle-stage gap below) leave twice as often in every year (`RETENTION_GAP_FIRST_YEAR`,
`RETENTION_GAP_LATER_YEARS`), about 15 points fewer still serving after a year, flagged
in `marts.retention` at the demo size. Always present (valid input): three rows for
people who never became a recruit (`leavers_no_recruit`, they belong to none). With
`dirty=True`: a blank `applicant_id` and a blank `left_on` (`leavers_blank_required`),
`31/02/2024` and `last Friday` (`leavers_bad_date`), a copy of a real row with another
reason (`leavers_conflicting_copy`: both copies rejected) and an identical copy
(`leavers_identical_copy`: counted once).

A force's own funnel (`config=`, docs/CONTRACT.md section 8)
-------------------------------------------------------
The same force (campaigns, routes, cut-off, second applications, formats, file layout,
event id scheme), with everything else read from the configuration:

* applicants files: `applicant_id` and each configured column once (a delivered
  characteristic's `column`, an age band's `born_on`; derived characteristics have
  none), headers as configured in `applicants_01` and upper or Title_Case in
  `applicants_02`. Values: a group's name in odd case and stray spaces, its synonyms
  (`F`, `Woman`), its prefixes and longer labels starting with them (`Asian or Asian
  British: Indian` for `asian`; "<Prefix>: other" when no known label fits), blanks and
  the configured not-stated spellings; every spelling is checked against section 8's
  matching before it is used. Group shares: the default force's for sex, ethnicity,
  disability, sexual orientation, and religion (`RELIGION_MIX`) when a characteristic has
  exactly those groups; otherwise the reference group most, the others 20% in all (12%
  each for more groups, at most 45%), 3% not stated. Dates of birth (`YYYY-MM-DD`) are
  drawn from an applicant age profile (`APPLICANT_AGE_WEIGHTS`, 17 to 64, mostly in the
  twenties) at the first application, so ages spread over the configured bands; 1.5%
  blank, 1% a not-stated spelling.
* events: the configured stages in order, spelled as their names and aliases in odd
  case, outcomes as their names and configured aliases. Stage models
  (`_stage_models`): eligibility (0.95), a sift (0.55) and an assessment (0.62) as in
  the default force, each stage between them and the final offer (0.97) passed by 85%
  or more (together about 0.58), so a funnel of five to ten stages ends 10-20% of
  applications in an appointment; days to weeks between stages.
* planted disparities (`planted_disparities(config)`, flagged at the demo size): the
  first non-reference group of the first delivered characteristic with at least two
  groups passes the middle stage (stage N // 2 + 1) at 0.5x its reference group's rate
  before INTERVENTION_START and 0.75x from then (about 0.6x overall); the youngest age
  band that is not the reference group (of the first age characteristic, holding at
  least 1% of applicants) passes the second stage (the final one when the second is the
  middle stage) at 0.7x. For `tests/fixtures/funnel.custom.toml`: women at `interview`,
  under-25s at `sift`; for `benchmarks/funnel.ten_stages.toml`: women at `fitness`,
  under-25s at `sift`. A funnel without such characteristics has that gap left out.
* optional files: `campaigns.csv` as the default force's; `population.csv` rows only
  for configured characteristics and groups (known shares, or the applicant mix with the
  non-reference groups 1.3x bigger; age bands from a flat working-age population;
  derived ones summed through `map`); `interventions.csv`: INT-1, coaching at the stage
  of the group gap (the gap halved from its start), and INT-2, the campaign-limited
  mentoring pilot (no effect).
* `dirty=True`: the same kinds as the default force's, placed by the number of stages
  (`_Generator._dirty_stages`); the unknown stage and outcome spellings skip any the
  funnel uses; the unrecognised values are a typo of a group name per delivered column
  and `31/02/1990` as a date of birth.

Config values only ever reach SQL text as literals (`_q`) and column names as quoted
identifiers (`_ident`, double quotes doubled).

Command line (used by the benchmark)::

    python -m funnel_pipeline.synthetic --target DIR --applicants N --seed S \\
        --format csv|parquet|both [--clean] [--no-optional] [--events-per-file N] \\
        [--config FUNNEL.toml]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from funnel_pipeline.funnel_config import (
    DEFAULT_NAME,
    NOT_STATED,
    Characteristic,
    FunnelConfig,
    load_config,
)

Format = Literal["csv", "parquet", "both"]

# --- The fictional force ------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    entry_route: str
    title: str
    opened_on: str
    closed_on: str
    #: share of applications
    weight: float
    #: written to campaigns.csv (one campaign is left out so its route is Unknown)
    listed: bool = True

    @property
    def year(self) -> int:
        return int(self.campaign_id[:4])


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign("2022-PCDA-1", "PCDA", "PCDA constable degree apprenticeship, spring 2022",
             "2022-01-10", "2022-02-25", 0.16),
    Campaign("2022-DHEP-2", "DHEP", "Degree holder entry programme, summer 2022",
             "2022-04-04", "2022-05-13", 0.12),
    Campaign("2022-Police Now, Detective-3", "Police Now",
             "Police Now national detective programme 2022", "2022-09-05", "2022-10-14", 0.07),
    Campaign("2023-PCDA-4", "PCDA", "PCDA constable degree apprenticeship, spring 2023",
             "2023-01-09", "2023-02-24", 0.17),
    Campaign("2023-Transferee-5", "Transferee", "Transferees from other forces 2023",
             "2023-04-03", "2023-06-30", 0.03),
    Campaign("2023-DHEP-6", "DHEP", "Degree holder entry programme, autumn 2023",
             "2023-09-04", "2023-10-13", 0.12),
    Campaign("2024-PCDA-7", "PCDA", "PCDA constable degree apprenticeship, spring 2024",
             "2024-01-08", "2024-02-23", 0.16),
    Campaign("2024-Police Now, Graduate-8", "Police Now",
             "Police Now national graduate leadership programme 2024",
             "2024-06-03", "2024-07-12", 0.07),
    Campaign("2025-DHEP-9", "DHEP", "Degree holder entry programme, spring 2025",
             "2025-03-03", "2025-04-11", 0.10, listed=False),
)
#: events after this instant are not delivered (the extract date): later stages pend
DATA_CUTOFF = "2025-06-30T00:00:00"
#: positive-action coaching at the assessment stage starts here (INT-1)
INTERVENTION_START = "2024-01-01"

#: characteristic code tables: (group, probability); order = code used in the SQL
SEX_MIX = (("Male", 0.595), ("Female", 0.385), ("Not stated", 0.020))
ETHNICITY_MIX = (("White", 0.805), ("Asian", 0.080), ("Black", 0.050), ("Mixed", 0.035),
                 ("Other", 0.012), ("Not stated", 0.018))
DISABILITY_MIX = (("No", 0.885), ("Yes", 0.080), ("Not stated", 0.035))
ORIENTATION_MIX = (("Heterosexual", 0.885), ("Gay or Lesbian", 0.032), ("Bisexual", 0.027),
                   ("Other", 0.005), ("Not stated", 0.051))
AGE_MIX = (("18-24", 0.36), ("25-34", 0.38), ("35-44", 0.18), ("45+", 0.08))
#: share of people who apply again, to a later campaign
SECOND_APPLICATION_RATE = 0.03


@dataclass(frozen=True)
class StageModel:
    name: str
    order: int
    withdraw: float
    #: pass probability of a non-withdrawn application of the reference groups
    base_pass: float
    #: days from the previous stage's outcome: minimum + exponential(mean); None at stage 1
    min_days: float | None
    mean_days: float | None


STAGE_MODEL: tuple[StageModel, ...] = (
    StageModel("application", 1, 0.05, 0.95, None, None),  # failed = not eligible
    StageModel("sift", 2, 0.04, 0.55, 3, 10),
    StageModel("assessment", 3, 0.07, 0.62, 7, 18),
    StageModel("vetting", 4, 0.04, 0.90, 14, 28),
    StageModel("appointment", 5, 0.03, 0.97, 14, 35),
)

#: pass multipliers at assessment before the intervention (White = 1)
ASSESSMENT_ETHNICITY_MULTIPLIER = {"Asian": 0.55, "Black": 0.50, "Mixed": 0.80, "Other": 0.75}
#: after INTERVENTION_START the gap (1 - multiplier) is halved
DISABILITY_SIFT_MULTIPLIER = 0.70
FEMALE_ASSESSMENT_MULTIPLIER = 0.90
MINORITY_VETTING_DURATION_FACTOR = 1.5

#: (characteristic, group, stage) that must come out flagged in marts.stage_pass_rates
PLANTED_DISPARITIES: list[tuple[str, str, str]] = [
    ("ethnicity", "Black", "assessment"),
    ("ethnicity", "Asian", "assessment"),
    ("ethnic_minority", "Yes", "assessment"),
    ("disability", "Yes", "sift"),
]
#: planted but deliberately below the flag threshold: (characteristic, group, stage, what)
SUBTHRESHOLD_EFFECTS: list[tuple[str, str, str, str]] = [
    ("sex", "Female", "assessment", "pass rate 0.90x the male rate (fitness test)"),
    ("ethnic_minority", "Yes", "vetting", "vetting takes 1.5x as long (duration, not pass rate)"),
]

# --- Spellings ------------------------------------------------------------------------------
# Lists are sampled uniformly; repeating a value weights it.

STAGE_SPELLINGS: dict[int, tuple[str, ...]] = {
    1: ("application", "application", "Application", "Application", " APPLY ", "applied",
        "Applied", "APPLICATION"),
    2: ("sift", "sift", "Sift", " SIFT", "Paper Sift", "shortlisting", "Application sift",
        "SIFT "),
    3: ("assessment", "Assessment", "SEARCH", "Online Assessment", "assessment centre",
        "Assessment Center", "OAC", "assessment "),
    4: ("vetting", "vetting", "Vetting", "Vetting Check", "security vetting", " VETTING"),
    5: ("appointment", "Appointment", "Appointment Offer", "offer", "Appointed",
        "appointment"),
}
OUTCOME_SPELLINGS: dict[int, tuple[str, ...]] = {  # 0 passed, 1 failed, 2 withdrawn
    0: ("passed", "passed", "Passed", "PASSED", "pass", "Pass", "successful", "Success"),
    1: ("failed", "failed", "Failed", "FAILED", "fail", "unsuccessful"),
    2: ("withdrawn", "Withdrawn", "withdrew", "withdraw", "Withdrawal", "WITHDRAWN"),
}
_NS = ("Prefer not to say", "Prefer not to say", None, "Not stated")
SEX_SPELLINGS = (
    ("Male",) * 6 + ("M", "M", "male", "Man"),
    ("Female",) * 6 + ("F", "F", "female", "Woman"),
    _NS,
)
ETHNICITY_SPELLINGS = (
    # roughly the census mix within White: mostly British, some Other White and Irish
    ("White: English, Welsh, Scottish, Northern Irish or British",) * 40
    + ("White: Other White",) * 4 + ("White",) * 4
    + ("White: Irish", "White: Gypsy or Irish Traveller", "White: Roma"),
    ("Asian or Asian British: Indian", "Asian or Asian British: Indian",
     "Asian or Asian British: Pakistani", "Asian or Asian British: Pakistani",
     "Asian or Asian British: Bangladeshi", "Asian or Asian British: Chinese",
     "Asian or Asian British: Any other Asian background",
     "Asian, Asian British or Asian Welsh: Indian", "Asian"),
    ("Black, Black British, Caribbean or African: African",
     "Black, Black British, Caribbean or African: African",
     "Black, Black British, Caribbean or African: Caribbean",
     "Black, Black British, Caribbean or African: Caribbean",
     ("Black, Black British, Caribbean or African: Any other Black, Black British, "
      "or Caribbean background"),
     "Black, Black British, Black Welsh, Caribbean or African: African", "Black"),
    ("Mixed or Multiple ethnic groups: White and Asian",
     "Mixed or Multiple ethnic groups: White and Black Caribbean",
     "Mixed or Multiple ethnic groups: White and Black Caribbean",
     "Mixed or Multiple ethnic groups: White and Black African",
     "Mixed or Multiple ethnic groups: Any other Mixed or Multiple ethnic background",
     "Mixed"),
    ("Other ethnic group: Arab", "Other ethnic group: Any other ethnic group", "Arab",
     "Other"),
    _NS,
)
DISABILITY_SPELLINGS = (
    ("No", "No", "No", "no", "NO"),
    ("Yes", "Yes", "yes", "YES"),
    ("Prefer not to say", "Prefer not to say", None),
)
ORIENTATION_SPELLINGS = (
    ("Heterosexual", "Heterosexual", "Heterosexual", "Straight", "heterosexual"),
    None,  # Gay or Lesbian: depends on sex, see _orientation_label_sql
    ("Bisexual", "Bisexual", "bisexual"),
    ("Other",),
    _NS,
)
GAY_SPELLINGS_BY_SEX = (
    ("Gay man", "Gay", "Gay or Lesbian"),
    ("Gay woman", "Lesbian", "Gay or Lesbian"),
    ("Gay or Lesbian", "Gay"),
)
#: dirty: stage and outcome spellings no funnel should know (a configured funnel's own
#: spellings are left out; the first three that remain are used)
UNKNOWN_STAGES = ("interview", "Fitness test", "Medical")
UNKNOWN_OUTCOMES = ("pending", "on hold", "deferred")
#: dirty: values the contract does not recognise (-> Not stated, reported)
UNRECOGNISED_VALUES = {"sex": "Mael", "ethnicity": "Whte: British", "disability": "N/K",
                       "sexual_orientation": "Hetrosexual"}

#: synthetic local working-age population (shares of the stated population; sum to 1)
POPULATION_SHARES: tuple[tuple[str, str, str], ...] = (
    ("sex", "Male", "0.494"), ("sex", "Female", "0.506"),
    ("ethnicity", "White", "0.780"), ("ethnicity", "Asian", "0.110"),
    ("ethnicity", "Black", "0.050"), ("ethnicity", "Mixed", "0.035"),
    ("ethnicity", "Other", "0.025"),
    ("ethnic_minority", "No", "0.780"), ("ethnic_minority", "Yes", "0.220"),
    ("disability", "No", "0.820"), ("disability", "Yes", "0.180"),
    ("sexual_orientation", "Heterosexual", "0.965"),
    ("sexual_orientation", "Gay or Lesbian", "0.017"),
    ("sexual_orientation", "Bisexual", "0.013"), ("sexual_orientation", "Other", "0.005"),
    ("lgbt_plus", "No", "0.965"), ("lgbt_plus", "Yes", "0.035"),
)
#: leavers (docs/CONTRACT.md section 9): the chance that a recruit leaves in the first, second
#: and third year after the start (then none do: the file covers three years); about a
#: quarter of recruits leave within three years, most in the first
LEAVING_BY_YEAR = (0.15, 0.08, 0.06)
#: the retention gap: recruits of that group leave this many times as often in their first
#: year, and this many times in the two years after (2 and 2: about 15 points fewer are
#: still serving after a year, flagged by the log-rank test at the demo size)
RETENTION_GAP_FIRST_YEAR = 2.0
RETENTION_GAP_LATER_YEARS = 2.0
#: the default force's retention-gap group (a configured funnel's: `planted_retention_gap`)
RETENTION_GAP = ("sex", "Female")
LEAVING_REASONS: tuple[str | None, ...] = (
    "Resigned", "Resigned", "Resigned", "Resigned: career change", "Resigned: family reasons",
    "Resigned: relocation", "Transferred to another force", "Transferred to another force",
    "Failed probation", "Dismissed", "Medical retirement", None)
#: leavers rows of people who never became a recruit (valid rows, belonging to none)
LEAVERS_NO_RECRUIT = 3

POPULATION_AREA = "Synthetic force area"
POPULATION_SOURCE = "synthetic, shaped after ONS Census 2021 (ages 16-64); not real figures"

EVENT_COLUMNS = ("event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at")
APPLICANT_COLUMNS = ("applicant_id", "sex", "ethnicity", "disability", "sexual_orientation",
                     "age_band")
#: file names this generator owns (replaced when overwrite=True)
_OWNED = re.compile(r"^(applicants|events|campaigns|population|interventions|leavers).*"
                    r"\.(csv|parquet)$",
                    re.IGNORECASE)
DEFAULT_EVENTS_PER_FILE = 1_000_000
#: ids are P + 8 digits
MAX_APPLICANTS = 99_999_999

#: planted-kind names, in report order
DIRTY_KINDS = (
    "blank_required", "unknown_stage", "unknown_outcome", "bad_timestamp",
    "conflicting_duplicate", "identical_redelivered_file", "orphan_application",
    "no_applicant_row", "out_of_sequence", "superseding_appeal",
    "unrecognised_characteristic", "applicant_repeated_in_file", "garbage_file",
)
OPTIONAL_DIRTY_KINDS = ("campaigns_bad_row", "population_bad_row", "interventions_bad_row",
                        "leavers_blank_required", "leavers_bad_date", "leavers_conflicting_copy",
                        "leavers_identical_copy")


@dataclass
class GenerationSummary:
    target: str
    seed: int
    fmt: str
    dirty: bool
    #: people generated (each has applied at least once)
    applicants: int
    #: applicants rows written (re-deliveries included, left-out people excluded)
    applicant_rows: int
    #: (applicant, campaign) pairs
    applications: int
    #: distinct event rows delivered (the identical re-sent file not counted again)
    events: int
    #: event rows in all events files, the re-sent copy included
    event_rows_written: int
    files: list[str] = field(default_factory=list)
    rows_by_file: dict[str, int] = field(default_factory=dict)
    #: planted rows (or files) by kind; see the module docstring
    planted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: the funnel generated for (a configuration file's path, or the built-in default)
    config: str = DEFAULT_NAME
    #: leavers rows that are a recruit's leaving (leavers_01.csv; planted rows excluded)
    leavers: int = 0
    #: (characteristic, group, stage) planted to be flagged in marts.stage_pass_rates
    planted_disparities: list[tuple[str, str, str]] = field(default_factory=list)
    #: (characteristic, group) planted to be flagged in marts.retention
    retention_gap: tuple[str, str] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


# --- SQL helpers ------------------------------------------------------------------------------


def _q(value: str | None) -> str:
    """A SQL literal."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def _list(values: tuple[str | None, ...]) -> str:
    return "([" + ", ".join(_q(v) for v in values) + "]::VARCHAR[])"


def _pick(values: tuple[str | None, ...], key: str, salt: int) -> str:
    """SQL: one of `values`, chosen uniformly by hash(seed, key, salt)."""
    # the modulus is a literal: `hash % len(list)` would be computed in HUGEINT (slow)
    return f"{_list(values)}[1 + (hh({key}, {salt}) % {len(values)})::INTEGER]"


def _code_sql(u: str, mix: tuple[tuple[str, float], ...]) -> str:
    """CASE turning a uniform draw into the code (index) of a weighted mix."""
    parts, cum = [], 0.0
    for code, (_, p) in enumerate(mix[:-1]):
        cum += p
        parts.append(f"WHEN {u} < {cum!r} THEN {code}")
    return f"(CASE {' '.join(parts)} ELSE {len(mix) - 1} END)"


def _label_sql(code: str, spellings: tuple, key: str, salt: int) -> str:
    whens = " ".join(
        f"WHEN {code} = {i} THEN {_pick(s, key, salt)}"
        for i, s in enumerate(spellings) if s is not None
    )
    return f"(CASE {whens} END)"


def _epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


# --- The generator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DirtyStages:
    """Stage orders the planted bad event rows use (see `_Generator._dirty_stages`)."""

    #: out of sequence: a fail at this stage, then a pass at the next
    failed: int
    #: a superseding appeal: a fail, then a later pass, at this stage
    appeal: int
    #: the stage of the unknown-outcome rows
    unknown_outcome: int
    #: the stage of the blank-field rows
    blank: int


def generate_landing(
    target: Path,
    *,
    applicants: int = 5000,
    seed: int = 42,
    fmt: Format = "csv",
    dirty: bool = True,
    optional_files: bool = True,
    events_per_file: int | None = None,
    overwrite: bool = True,
    memory_limit: str = "2GB",
    threads: int | None = None,
    config: FunnelConfig | str | Path | None = None,
) -> GenerationSummary:
    """Write a synthetic landing folder into `target` (created if missing).

    `config` is the funnel (a `FunnelConfig` or the path of a docs/CONTRACT.md section 8
    file): None, or the built-in default, writes the default force exactly as before;
    any other funnel gets data of its own stages and characteristics (module docstring).

    `overwrite=True` replaces files this generator owns (`applicants*`, `events*`,
    `campaigns*`, `population*`, `interventions*` .csv/.parquet) that are already in
    `target`, and never touches anything else; with `overwrite=False` such files make it
    raise `FileExistsError`. Note that the pipeline never re-reads a file name it has
    loaded, so point a fresh database at a regenerated folder.
    """
    started = time.perf_counter()
    funnel = _resolve(config)  # a bad file raises ConfigError before anything is written
    if fmt not in ("csv", "parquet", "both"):
        raise ValueError(f"fmt must be csv, parquet or both, not {fmt!r}")
    if not 1 <= applicants <= MAX_APPLICANTS:
        raise ValueError(f"applicants must be between 1 and {MAX_APPLICANTS:,}")
    if events_per_file is not None and events_per_file < 1:
        raise ValueError("events_per_file must be at least 1")
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    existing = sorted(p for p in target.iterdir() if p.is_file() and _OWNED.match(p.name))
    if existing and not overwrite:
        raise FileExistsError(
            f"{target} already holds landing files ({existing[0].name}, ...); "
            "pass overwrite=True or use an empty folder"
        )
    work = Path(tempfile.mkdtemp(prefix=".synthetic-tmp-", dir=target))
    try:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET memory_limit = {_q(memory_limit)}")
            con.execute(f"SET temp_directory = {_q(str(work / 'duckdb_spill'))}")
            con.execute("SET preserve_insertion_order = true")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            options = {"applicants": applicants, "seed": int(seed), "fmt": fmt,
                       "dirty": dirty, "optional_files": optional_files,
                       "events_per_file": events_per_file or DEFAULT_EVENTS_PER_FILE}
            gen = (_Generator(con, work, **options) if funnel is None
                   else _ConfigGenerator(con, work, config=funnel, **options))
            summary = gen.run()
        finally:
            con.close()
        for path in existing:
            path.unlink()
        for name in summary.files:
            os.replace(work / name, target / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary.target = str(target)
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.config = funnel.name if funnel is not None else DEFAULT_NAME
    summary.planted_disparities = planted_disparities(funnel)
    summary.retention_gap = planted_retention_gap(funnel)
    return summary


class _Generator:
    def __init__(self, con: duckdb.DuckDBPyConnection, work: Path, *, applicants: int,
                 seed: int, fmt: str, dirty: bool, optional_files: bool,
                 events_per_file: int) -> None:
        self.con, self.work = con, work
        self.n, self.seed, self.fmt = applicants, seed, fmt
        self.dirty, self.optional_files, self.epf = dirty, optional_files, events_per_file
        self.planted: dict[str, int] = {}
        self.rows_by_file: dict[str, int] = {}
        # the funnel's shape, read by the shared steps (placing, dirty rows, writing
        # events); the default force's values here, a configured funnel's in
        # _ConfigGenerator
        self.n_stages = len(STAGE_MODEL)
        #: event ids are app_idx * slots + slot: 1..n_stages the stages, n_stages + 1 a
        #: superseding appeal, n_stages + 2 the planted bad rows (ids never collide)
        self.slots = 8
        self.stage_names: tuple[str, ...] = tuple(m.name for m in STAGE_MODEL)
        self.stage_spellings: dict[int, tuple[str, ...]] = STAGE_SPELLINGS
        self.outcome_spellings: dict[int, tuple[str, ...]] = OUTCOME_SPELLINGS
        self.unknown_stages: tuple[str, ...] = UNKNOWN_STAGES
        self.unknown_outcomes: tuple[str, ...] = UNKNOWN_OUTCOMES
        #: SQL over `apps`: the application belongs to the retention-gap group (women)
        self.retention_gap_sql = "sex_g = 1"
        self.leaving_rows = 0

    # -- plumbing
    def sql(self, text: str, params: list | None = None):
        return self.con.execute(text, params or [])

    def scalar(self, text: str):
        return self.con.execute(text).fetchone()[0]

    def copy(self, query: str, name: str, *, header: bool = True, crlf: bool = False) -> int:
        path = self.work / name
        if name.endswith(".parquet"):
            opts = "FORMAT parquet"
        else:
            opts = f"FORMAT csv, HEADER {str(header).lower()}"
            if crlf:
                opts += ", NEW_LINE '\r\n'"
        rows = self.con.execute(f"COPY ({query}) TO {_q(str(path))} ({opts})").fetchone()[0]
        self.rows_by_file[name] = int(rows)
        return int(rows)

    # -- steps
    def run(self) -> GenerationSummary:
        self._macros()
        self._campaigns()
        self._people()
        if self.dirty:
            self._pick_people()
        self._applications()
        if self.dirty:
            self._pick_applications()
        self._place_events()
        self._dirty_events()
        applicant_rows = self._write_applicants()
        self._write_events()
        if self.optional_files:
            self._write_optional()
            self._leavers()
            self._write_leavers()
        files = sorted(self.rows_by_file)
        resend = [f for f in files if "_resend." in f]
        written = sum(v for f, v in self.rows_by_file.items() if f.startswith("events_")
                      and f != "events_garbage.csv")
        events = written - sum(self.rows_by_file[f] for f in resend)
        return GenerationSummary(
            target="", seed=self.seed, fmt=self.fmt, dirty=self.dirty,
            applicants=self.n, applicant_rows=applicant_rows,
            applications=int(self.scalar("SELECT count(*) FROM apps")),
            events=events, event_rows_written=written, files=files,
            rows_by_file=dict(sorted(self.rows_by_file.items())),
            planted={k: v for k, v in self.planted.items()},
            leavers=self.leaving_rows,
        )

    def _macros(self) -> None:
        s = self.seed
        # DuckDB combines the hashes of several arguments almost linearly, so draws with
        # different salts would be strongly correlated; hashing the combination again
        # mixes it (measured correlation between salts ~0.0002 instead of ~0.998)
        self.sql(f"CREATE MACRO hh(x, salt) AS "
                 f"hash(hash(({s})::BIGINT, (x)::BIGINT, (salt)::BIGINT))")
        # 53 random bits -> a double in [0, 1)
        self.sql("CREATE MACRO uu(x, salt) AS (hh(x, salt) >> 11)::DOUBLE / 9007199254740992.0")
        # exponential tail in days, capped at 5 means
        self.sql("CREATE MACRO expo(x, salt, mean) AS least(-ln(1 - uu(x, salt)) * mean, 5 * mean)")

    def _campaigns(self) -> None:
        rows = []
        for idx, c in enumerate(CAMPAIGNS):
            open_s = _epoch(c.opened_on)
            window = _epoch(c.closed_on) + 86400 - open_s  # closed_on is the last day
            rows.append(f"({idx}, {_q(c.campaign_id)}, {c.year}, {open_s}, {window})")
        self.sql("CREATE TABLE campaigns(c INTEGER, campaign_id VARCHAR, year INTEGER, "
                 "open_s BIGINT, window_s BIGINT)")
        self.sql("INSERT INTO campaigns VALUES " + ", ".join(rows))
        self.n_campaigns = len(CAMPAIGNS)

    def _people(self) -> None:
        nc = self.n_campaigns
        total = sum(c.weight for c in CAMPAIGNS)
        # first campaign: weighted by campaign size
        c1 = _code_sql("uu(i, 5)", tuple((c.campaign_id, c.weight / total) for c in CAMPAIGNS))
        # applicants_01 holds the first 55% of people, applicants_02 the rest
        self.n01 = max(1, math.ceil(self.n * 0.55))
        # re-delivered in applicants_02 with changed values: ~0.25%, at most ~250 people
        step = max(397, self.n01 // 250)
        self.sql(f"""
            CREATE TABLE people AS
            SELECT i,
                   {_code_sql('uu(i, 1)', SEX_MIX)}::TINYINT AS sex_g,
                   {_code_sql('uu(i, 2)', ETHNICITY_MIX)}::TINYINT AS eth_g,
                   {_code_sql('uu(i, 3)', DISABILITY_MIX)}::TINYINT AS dis_g,
                   {_code_sql('uu(i, 4)', ORIENTATION_MIX)}::TINYINT AS so_g,
                   {_code_sql('uu(i, 8)', AGE_MIX)}::TINYINT AS age_g,
                   {c1}::TINYINT AS c1,
                   CASE WHEN uu(i, 6) < {SECOND_APPLICATION_RATE} AND {c1} < {nc - 1}
                        THEN ({c1} + 1 + floor(uu(i, 7) * ({nc - 1} - {c1})))::TINYINT
                   END AS c2,
                   i < {self.n01} AS in_01,
                   (i < {self.n01} AND i % {step} = 7) AS redelivered,
                   0::TINYINT AS unrec,      -- 1..4: an unrecognised value (dirty)
                   false AS omitted,         -- no applicants row (dirty)
                   false AS repeated         -- stale row then true row in one file (dirty)
            FROM range({self.n}) t(i)
        """)
        self.planted["redelivered_applicant"] = int(
            self.scalar("SELECT count(*) FROM people WHERE redelivered"))

    def _pick(self, table: str, key: str, where: str, k: int, salt: int) -> list[int]:
        """Up to k keys of `table` matching `where`, chosen by hash (deterministic)."""
        rows = self.sql(
            f"SELECT {key} FROM {table} WHERE {where} ORDER BY hh({key}, {salt}), {key} LIMIT {k}"
        ).fetchall()
        return [int(r[0]) for r in rows]

    def _pick_people(self) -> None:
        used: list[int] = []

        def not_used() -> str:
            return f"i NOT IN ({', '.join(map(str, used))})" if used else "true"

        # an unrecognised value in each delivered characteristic
        for code, col in enumerate(("sex", "ethnicity", "disability", "sexual_orientation"), 1):
            got = self._pick("people", "i", f"NOT redelivered AND {not_used()}", 1, 900 + code)
            used += got
            if got:
                g = {"sex": "sex_g = 2", "ethnicity": "eth_g = 5", "disability": "dis_g = 2",
                     "sexual_orientation": "so_g = 4"}[col]
                # the pipeline will see Not stated: model it that way too
                self.sql(f"UPDATE people SET unrec = {code}, {g} WHERE i = {got[0]}")
        self.planted["unrecognised_characteristic"] = int(
            self.scalar("SELECT count(*) FROM people WHERE unrec > 0"))
        got = self._pick("people", "i", f"NOT redelivered AND {not_used()}", 3, 910)
        used += got
        if got:
            self.sql(f"UPDATE people SET omitted = true WHERE i IN ({', '.join(map(str, got))})")
        self.planted["no_applicant_row"] = len(got)
        got = self._pick("people", "i", f"NOT in_01 AND {not_used()}", 2, 911)
        if got:
            self.sql(f"UPDATE people SET repeated = true WHERE i IN ({', '.join(map(str, got))})")
        self.planted["applicant_repeated_in_file"] = len(got)

    def _applications(self) -> None:
        model = {m.order: m for m in STAGE_MODEL}
        cutoff = _epoch(DATA_CUTOFF)
        start = _epoch(INTERVENTION_START)
        before = " ".join(f"WHEN {g} THEN {m!r}" for g, m in (
            (1, ASSESSMENT_ETHNICITY_MULTIPLIER["Asian"]),
            (2, ASSESSMENT_ETHNICITY_MULTIPLIER["Black"]),
            (3, ASSESSMENT_ETHNICITY_MULTIPLIER["Mixed"]),
            (4, ASSESSMENT_ETHNICITY_MULTIPLIER["Other"])))
        after = " ".join(f"WHEN {g} THEN {1 - (1 - m) / 2!r}" for g, m in (
            (1, ASSESSMENT_ETHNICITY_MULTIPLIER["Asian"]),
            (2, ASSESSMENT_ETHNICITY_MULTIPLIER["Black"]),
            (3, ASSESSMENT_ETHNICITY_MULTIPLIER["Mixed"]),
            (4, ASSESSMENT_ETHNICITY_MULTIPLIER["Other"])))
        pass_prob = {
            1: f"{model[1].base_pass}",
            2: f"{model[2].base_pass} * CASE WHEN dis_g = 1 THEN {DISABILITY_SIFT_MULTIPLIER} "
               "ELSE 1 END",
            3: f"{model[3].base_pass}"
               f" * CASE WHEN sex_g = 1 THEN {FEMALE_ASSESSMENT_MULTIPLIER} ELSE 1 END"
               f" * CASE WHEN t3 >= {start} THEN (CASE eth_g {after} ELSE 1 END)"
               f" ELSE (CASE eth_g {before} ELSE 1 END) END",
            4: f"{model[4].base_pass}",
            5: f"{model[5].base_pass}",
        }
        dur = {}
        for k in range(2, 6):
            m = model[k]
            factor = (f" * CASE WHEN eth_g BETWEEN 1 AND 4 THEN {MINORITY_VETTING_DURATION_FACTOR}"
                      " ELSE 1 END") if k == 4 else ""
            dur[k] = (f"CAST(86400 * ({m.min_days} + expo(app_idx, {20 + k}, {m.mean_days}))"
                      f"{factor} AS BIGINT)")
        cols = []
        for k in range(1, 6):
            m = model[k]
            if k == 1:
                cols.append("cam.open_s + CAST(floor(uu(app_idx, 20) * cam.window_s) AS BIGINT) AS t1")
            else:
                cols.append(f"CASE WHEN o{k - 1} = 0 THEN t{k - 1} + {dur[k]} END AS t{k}")
            cols.append(
                f"CASE WHEN t{k} IS NOT NULL THEN (CASE WHEN uu(app_idx, {30 + k}) < {m.withdraw} "
                f"THEN 2 WHEN uu(app_idx, {40 + k}) < {pass_prob[k]} THEN 0 ELSE 1 END) END"
                f"::TINYINT AS o{k}")
        cut = ", ".join(
            f"CASE WHEN t{k} <= {cutoff} THEN t{k} END AS t{k}, "
            f"CASE WHEN t{k} <= {cutoff} THEN o{k} END AS o{k}" for k in range(1, 6))
        self.sql(f"""
            CREATE TABLE apps AS
            WITH a AS (
                SELECT p.i, p.i * 2 + r.k AS app_idx,
                       CASE r.k WHEN 0 THEN p.c1 ELSE p.c2 END AS c,
                       p.sex_g, p.eth_g, p.dis_g
                FROM people p CROSS JOIN range(2) r(k)
                WHERE r.k = 0 OR p.c2 IS NOT NULL
            ), b AS (
                SELECT a.*, cam.year, {', '.join(cols)}
                FROM a JOIN campaigns cam ON cam.c = a.c
            ), c AS (
                SELECT i, app_idx, c, year, sex_g, eth_g, dis_g, {cut} FROM b
            )
            SELECT *, ((t1 IS NOT NULL)::INT + (t2 IS NOT NULL)::INT + (t3 IS NOT NULL)::INT
                       + (t4 IS NOT NULL)::INT + (t5 IS NOT NULL)::INT)::TINYINT AS n_ev,
                   false AS orphan
            FROM c
        """)

    def _pick_applications(self) -> None:
        """Choose the applications that carry planted bad rows (each used once)."""
        cutoff = _epoch(DATA_CUTOFF)
        d = self._dirty_stages()
        self.sql("CREATE TABLE picks(kind VARCHAR, j INTEGER, app_idx BIGINT)")
        plan = [
            # kind, how many, condition
            ("orphan_application", 3, "n_ev >= 2"),
            ("conflicting_duplicate", 3, "o2 = 0"),
            ("out_of_sequence", 3,
             f"o{d.failed} = 1 AND n_ev = {d.failed} AND t{d.failed} + 21 * 86400 <= {cutoff}"),
            ("superseding_appeal", 3, f"o{d.appeal} = 1 AND t{d.appeal} + 45 * 86400 <= {cutoff}"),
            ("unknown_stage", 3, "n_ev >= 2"),
            ("unknown_outcome", 3, f"n_ev >= {d.unknown_outcome}"),
            ("bad_timestamp", 4, "n_ev >= 2"),
            ("blank_required", 6, f"n_ev >= {d.blank}"),
        ]
        for salt, (kind, k, where) in enumerate(plan, start=950):
            self.sql(f"""
                INSERT INTO picks
                SELECT {_q(kind)}, (row_number() OVER (ORDER BY hh(app_idx, {salt}), app_idx) - 1)::INTEGER,
                       app_idx
                FROM (SELECT app_idx FROM apps
                      WHERE {where} AND app_idx NOT IN (SELECT app_idx FROM picks)
                      ORDER BY hh(app_idx, {salt}), app_idx LIMIT {k})
            """)
        self.sql("UPDATE apps SET orphan = true "
                 "WHERE app_idx IN (SELECT app_idx FROM picks WHERE kind = 'orphan_application')")

    def _place_events(self) -> None:
        """Number each application's events within its campaign year; split into files."""
        epf = self.epf
        self.sql(f"""
            CREATE TABLE placed AS
            SELECT *, ev_off // {epf} + 1 AS first_part,
                   CASE WHEN n_out > 0 THEN (ev_off + n_out - 1) // {epf} + 1 ELSE 0 END AS last_part
            FROM (
                SELECT *, coalesce(sum(n_out) OVER (PARTITION BY year ORDER BY app_idx
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::BIGINT AS ev_off
                FROM (SELECT *, n_ev - (orphan AND n_ev > 0)::INT AS n_out FROM apps)
            )
        """)
        parts = self.sql("SELECT year, max(last_part) FROM placed GROUP BY year ORDER BY year"
                         ).fetchall()
        self.event_files: list[tuple[int, int, str]] = []  # (year, part, file name)
        g = 0
        for year, n_parts in parts:
            for part in range(1, max(int(n_parts), 1) + 1):
                if self.fmt == "csv":
                    ext = "csv"
                elif self.fmt == "parquet":
                    ext = "parquet"
                else:
                    ext = "csv" if g % 2 == 0 else "parquet"
                self.event_files.append((int(year), part, f"events_{year}_{part}.{ext}"))
                g += 1
        # the one CSV with a BOM, CRLF and upper-cased reordered headers: the first CSV
        # events file of the second year (or the first CSV file)
        csvs = [f for f in self.event_files if f[2].endswith(".csv")]
        years = sorted({f[0] for f in self.event_files})
        later = [f for f in csvs if len(years) > 1 and f[0] >= years[1]]
        self.bom_file = (later or csvs or [(0, 0, None)])[0][2]

    def _dirty_stages(self) -> _DirtyStages:
        """Where the planted bad rows go, from the number of stages alone (so the default's
        five stages give exactly today's rows: out of sequence at vetting after a failed
        assessment, the appeal at vetting, the unknown outcome at assessment, the blank
        fields at vetting)."""
        n = self.n_stages
        return _DirtyStages(failed=max(1, n - 2), appeal=max(1, n - 1),
                            unknown_outcome=min(3, n), blank=min(4, n))

    def _dirty_events(self) -> None:
        self.sql("""CREATE TABLE dirty(seq INTEGER, kind VARCHAR, event_id VARCHAR,
                    applicant_id VARCHAR, campaign_id VARCHAR, stage VARCHAR, outcome VARCHAR,
                    occurred_at VARCHAR)""")
        if not self.dirty:
            return
        iso = "strftime(make_timestamp(({t})::BIGINT * 1000000), '%Y-%m-%dT%H:%M:%SZ')"
        base = ("FROM picks p JOIN apps a USING (app_idx) JOIN campaigns cam ON cam.c = a.c "
                "WHERE p.kind = '{kind}'")
        eid = f"printf('E%010d', a.app_idx * {self.slots} + {{slot}})"
        aid = "printf('P%08d', a.i + 1)"

        def add(kind: str, cols: str) -> None:
            self.sql(f"INSERT INTO dirty SELECT 0, '{kind}', {cols} {base.format(kind=kind)} "
                     "ORDER BY p.j")

        d = self._dirty_stages()
        name = self.stage_names
        misc = self.n_stages + 2
        # a real pass at the second stage (sift), again with another outcome -> both
        # copies rejected
        add("conflicting_duplicate",
            f"{eid.format(slot=2)}, {aid}, cam.campaign_id, {_q(name[1])}, 'failed', "
            f"{iso.format(t='a.t2 + 3600')}")
        # a pass at the next stage (vetting) after a failed one (assessment); its slot is
        # the unused id of that next stage
        add("out_of_sequence",
            f"{eid.format(slot=d.failed + 1)}, {aid}, cam.campaign_id, "
            f"{_q(name[d.failed][:1].upper() + name[d.failed][1:])}, 'passed', "
            f"{iso.format(t=f'a.t{d.failed} + 21 * 86400')}")
        # an appeal (vetting) upheld 45 days after the fail: supersedes it
        add("superseding_appeal",
            f"{eid.format(slot=self.n_stages + 1)}, {aid}, cam.campaign_id, "
            f"{_q(name[d.appeal - 1])}, 'Passed', {iso.format(t=f'a.t{d.appeal} + 45 * 86400')}")
        add("unknown_stage",
            f"{eid.format(slot=misc)}, {aid}, cam.campaign_id, "
            f"{_list(self.unknown_stages)}[p.j + 1], 'passed', "
            f"{iso.format(t='a.t2 + 2 * 86400')}")
        add("unknown_outcome",
            f"{eid.format(slot=misc)}, {aid}, cam.campaign_id, {_q(name[d.unknown_outcome - 1])}, "
            f"{_list(self.unknown_outcomes)}[p.j + 1], "
            f"{iso.format(t=f'a.t{d.unknown_outcome} + 86400')}")
        add("bad_timestamp",
            f"{eid.format(slot=misc)}, {aid}, cam.campaign_id, {_q(name[1])}, 'passed', "
            "['31/02/2021', 'yesterday', '2023-02-30', '13/05/2023 09:00'][p.j + 1]")
        # one required column blank per row: NULL (empty CSV field) or '' / white space
        add("blank_required",
            f"CASE WHEN p.j = 0 THEN NULL ELSE {eid.format(slot=misc)} END, "
            f"CASE WHEN p.j = 1 THEN '' ELSE {aid} END, "
            "CASE WHEN p.j = 2 THEN NULL ELSE cam.campaign_id END, "
            f"CASE WHEN p.j = 3 THEN '' ELSE {_q(name[d.blank - 1])} END, "
            "CASE WHEN p.j = 4 THEN '  ' ELSE 'passed' END, "
            f"CASE WHEN p.j = 5 THEN NULL ELSE {iso.format(t=f'a.t{d.blank} + 86400')} END")
        for kind in ("conflicting_duplicate", "out_of_sequence", "superseding_appeal",
                     "unknown_stage", "unknown_outcome", "bad_timestamp", "blank_required"):
            self.planted[kind] = int(self.scalar(
                f"SELECT count(*) FROM dirty WHERE kind = '{kind}'"))
        self.planted["orphan_application"] = int(self.scalar(
            "SELECT count(*) FROM apps WHERE orphan"))
        # spread over the events files, round robin in a fixed order
        self.sql("""CREATE TABLE dirty_seq AS
                    SELECT * REPLACE ((row_number() OVER (
                        ORDER BY kind, event_id NULLS FIRST, applicant_id NULLS FIRST) - 1
                    )::INTEGER AS seq)
                    FROM dirty""")
        self.sql("DROP TABLE dirty")
        self.sql("ALTER TABLE dirty_seq RENAME TO dirty")

    def _leavers(self) -> None:
        """`leaver_rows`: the leavers file's rows (docs/CONTRACT.md section 9), set-based.

        A recruit is an application passed at the final stage (the planted orphans have no
        first-stage event, so they are no recruits). Each recruit leaves in year 1, 2 or 3
        after the start with `LEAVING_BY_YEAR` (the retention-gap group: x
        `RETENTION_GAP_FIRST_YEAR` in year 1, x `RETENTION_GAP_LATER_YEARS` after), at
        least 7 days after it, so a bare `left_on` date (00:00 UTC) is never before the
        start; a leaving after the data cut-off is not in the file (that recruit is
        censored). `left_on` is a bare date (half), `...Z` or `YYYY-MM-DD HH:MM:SS`.
        """
        n, cutoff = self.n_stages, _epoch(DATA_CUTOFF)
        p1, p2, p3 = LEAVING_BY_YEAR
        f1, f2 = RETENTION_GAP_FIRST_YEAR, RETENTION_GAP_LATER_YEARS
        self.sql(f"""
            CREATE TABLE recruits AS
            SELECT i, app_idx, t{n} AS start, coalesce({self.retention_gap_sql}, false) AS gap
            FROM apps WHERE o{n} = 0 AND NOT orphan""")
        self.sql(f"""
            CREATE TABLE leaving AS
            SELECT i, app_idx, left_s FROM (
                SELECT *, start + CAST(86400 * (yr * 365 + 7 + uu(app_idx, 602) * 358) AS BIGINT)
                              AS left_s
                FROM (SELECT *, CASE WHEN u < {p1} * a THEN 0
                                     WHEN u < {p1} * a + {p2} * b THEN 1
                                     WHEN u < {p1} * a + ({p2} + {p3}) * b THEN 2 END AS yr
                      FROM (SELECT *, uu(app_idx, 601) AS u,
                                   CASE WHEN gap THEN {f1} ELSE 1 END AS a,
                                   CASE WHEN gap THEN {f2} ELSE 1 END AS b
                            FROM recruits)))
            WHERE yr IS NOT NULL AND left_s <= {cutoff}""")
        left_on = """CASE WHEN hh(k, 603) % 10 < 5 THEN strftime(ts, '%Y-%m-%d')
                          WHEN hh(k, 603) % 10 < 8 THEN strftime(ts, '%Y-%m-%dT%H:%M:%SZ')
                          ELSE strftime(ts, '%Y-%m-%d %H:%M:%S') END"""
        person = "printf('P%08d', i + 1)"
        self.sql(f"""
            CREATE TABLE leaver_rows AS
            SELECT 'leaver' AS kind, k, {person} AS applicant_id, {left_on} AS left_on,
                   {_pick(LEAVING_REASONS, 'k', 604)} AS reason
            FROM (SELECT *, app_idx AS k, make_timestamp(left_s * 1000000) AS ts FROM leaving)""")
        # people who never became a recruit: rows that belong to none (valid input)
        self.sql(f"""
            INSERT INTO leaver_rows
            SELECT 'leavers_no_recruit', k, {person}, strftime(ts, '%Y-%m-%d'), 'Resigned'
            FROM (SELECT *, app_idx AS k, make_timestamp((t2 + 40 * 86400) * 1000000) AS ts
                  FROM apps
                  WHERE o2 = 1 AND NOT orphan AND t2 + 40 * 86400 <= {cutoff}
                    AND i NOT IN (SELECT i FROM recruits)
                  ORDER BY hh(app_idx, 610), app_idx LIMIT {LEAVERS_NO_RECRUIT})""")
        if self.dirty:
            self._dirty_leavers()
        self.leaving_rows = int(self.scalar(
            "SELECT count(*) FROM leaver_rows WHERE kind = 'leaver'"))
        for kind in ("leavers_no_recruit",) + (OPTIONAL_DIRTY_KINDS[3:] if self.dirty else ()):
            self.planted[kind] = int(self.scalar(
                f"SELECT count(*) FROM leaver_rows WHERE kind = {_q(kind)}"))

    def _dirty_leavers(self) -> None:
        """A handful of bad leavers rows, each from a different real leaving (by hash):
        a blank `applicant_id`, a blank `left_on`, two dates that cannot be parsed, a copy
        with another reason (a conflict: both copies are rejected, so that leaving is
        lost) and an identical copy (counted once)."""
        self.sql("""
            CREATE TABLE leaver_picks AS
            SELECT *, row_number() OVER (ORDER BY hh(k, 611), k) AS r
            FROM leaver_rows WHERE kind = 'leaver'
            ORDER BY hh(k, 611), k LIMIT 6""")
        big = 10**12  # order keys of the planted rows, apart from the applications'
        for r, kind, cols in (
            (1, "leavers_conflicting_copy",
             "applicant_id, left_on, coalesce(reason, 'Resigned') || ' (corrected)'"),
            (2, "leavers_identical_copy", "applicant_id, left_on, reason"),
            (3, "leavers_blank_required", "'', left_on, reason"),
            (4, "leavers_blank_required", "applicant_id, NULL, reason"),
            (5, "leavers_bad_date", "applicant_id, '31/02/2024', reason"),
            (6, "leavers_bad_date", "applicant_id, 'last Friday', reason"),
        ):
            self.sql(f"INSERT INTO leaver_rows SELECT {_q(kind)}, {big} + k, {cols} "
                     f"FROM leaver_picks WHERE r = {r}")

    def _write_leavers(self) -> None:
        self.copy("SELECT applicant_id, left_on, reason FROM leaver_rows "
                  "ORDER BY hh(k, 605), k, kind", "leavers_01.csv")

    # -- writers
    def _applicant_select(self, where: str, stale: bool, order: int) -> str:
        key = "p.i"
        sex = _label_sql("p.sex_g", SEX_SPELLINGS, key, 301)
        eth = _label_sql("p.eth_g", ETHNICITY_SPELLINGS, key, 302)
        dis = _label_sql("p.dis_g", DISABILITY_SPELLINGS, key, 303)
        gay = _label_sql("p.sex_g", GAY_SPELLINGS_BY_SEX, key, 305)
        so = _label_sql("p.so_g", ORIENTATION_SPELLINGS, key, 304).replace(
            "CASE ", f"CASE WHEN p.so_g = 1 THEN {gay} ", 1)
        age = _label_sql("p.age_g", tuple((a,) for a, _ in AGE_MIX), key, 306)
        u = UNRECOGNISED_VALUES
        if stale:  # an older delivery: the person had not yet answered some questions
            eth, dis, so = "'Prefer not to say'", "NULL", "'Prefer not to say'"
        else:
            sex = f"CASE WHEN p.unrec = 1 THEN {_q(u['sex'])} ELSE {sex} END"
            eth = f"CASE WHEN p.unrec = 2 THEN {_q(u['ethnicity'])} ELSE {eth} END"
            dis = f"CASE WHEN p.unrec = 3 THEN {_q(u['disability'])} ELSE {dis} END"
            so = f"CASE WHEN p.unrec = 4 THEN {_q(u['sexual_orientation'])} ELSE {so} END"
        return (f"SELECT 'P' || substr((100000000 + p.i + 1)::VARCHAR, 2) AS applicant_id, "
                f"{sex} AS sex, "
                f"{eth} AS ethnicity, {dis} AS disability, {so} AS sexual_orientation, "
                f"{age} AS age_band, p.i AS _i, {order} AS _o FROM people p WHERE {where}")

    def _write_applicants(self) -> int:
        ext1 = "parquet" if self.fmt == "parquet" else "csv"
        ext2 = "csv" if self.fmt == "csv" else "parquet"
        cols = ", ".join(APPLICANT_COLUMNS)
        q1 = (f"SELECT {cols} FROM ("
              f"{self._applicant_select('p.in_01 AND NOT p.omitted AND NOT p.redelivered', False, 1)}"
              f" UNION ALL {self._applicant_select('p.in_01 AND p.redelivered', True, 1)}"
              ") ORDER BY _i, _o")
        q2 = (f"SELECT {cols} FROM ("
              f"{self._applicant_select('(NOT p.in_01 OR p.redelivered) AND NOT p.omitted', False, 1)}"
              f" UNION ALL {self._applicant_select('p.repeated', True, 0)}"
              ") ORDER BY _i, _o")
        rows = self.copy(q1, f"applicants_01.{ext1}", crlf=True)
        rows += self.copy(q2, f"applicants_02.{ext2}", crlf=True)
        return rows

    def _event_select(self, year: int, part: int, g: int, *, header: bool) -> str:
        """Rows of one events file, in file order (a hash shuffle, fixed by the seed).

        The shuffle sorts narrow numeric rows; text is formatted afterwards by an
        order-preserving projection. Planted rows (and the header row of the BOM file)
        ride along with their text in the d_* columns.
        """
        epf = self.epf
        stage = "CASE s " + " ".join(
            f"WHEN {k} THEN {_pick(v, 'en', 201)}" for k, v in self.stage_spellings.items()
        ) + " END"
        outcome = "CASE o " + " ".join(
            f"WHEN {k} THEN {_pick(v, 'en', 202)}" for k, v in self.outcome_spellings.items()
        ) + " END"
        n = self.n_stages
        t = "CASE s " + "".join(f"WHEN {k} THEN t{k} " for k in range(1, n)) + f"ELSE t{n} END"
        o = "CASE s " + "".join(f"WHEN {k} THEN o{k} " for k in range(1, n)) + f"ELSE o{n} END"
        campaign = _list(tuple(c.campaign_id for c in CAMPAIGNS)) + "[c + 1]"
        # occurred_at: 45% ...Z, 15% UK local time with offset, 20% 'YYYY-MM-DD HH:MM:SS'
        # (UTC, no offset), 20% a bare date
        ts = """CASE WHEN v < 9 THEN strftime(ts, '%Y-%m-%dT%H:%M:%SZ')
                     WHEN v < 12 THEN CASE WHEN month(ts) BETWEEN 4 AND 10
                          THEN strftime(ts + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%S') || '+01:00'
                          ELSE strftime(ts, '%Y-%m-%dT%H:%M:%S') || '+00:00' END
                     WHEN v < 16 THEN strftime(ts, '%Y-%m-%d %H:%M:%S')
                     ELSE strftime(ts, '%Y-%m-%d') END"""
        payload = ", ".join(f"NULL::VARCHAR AS d_{c}" for c in EVENT_COLUMNS)
        numeric = f"""
            SELECT 1 AS _h, hh(en, 203) AS _k, en, i, c::TINYINT AS c, s, tt, o, {payload}
            FROM (
                SELECT i, c, app_idx * {self.slots} + s AS en, s, {t} AS tt, {o} AS o
                FROM (SELECT *, unnest(range(1, n_ev::BIGINT + 1)) AS s FROM placed
                      WHERE year = {year} AND first_part <= {part} AND last_part >= {part})
                WHERE NOT (orphan AND s = 1)
                  AND (ev_off + s - 1 - orphan::INT) // {epf} + 1 = {part}
            )"""
        nulls = ("NULL::BIGINT, NULL::BIGINT, NULL::TINYINT, NULL::BIGINT, NULL::BIGINT, "
                 "NULL::TINYINT")
        n_files = len(self.event_files)
        dcols = ", ".join(EVENT_COLUMNS)
        bad = f"""
            SELECT 1, hh(1000000000000 + seq, 203), {nulls}, {dcols}
            FROM dirty WHERE seq % {n_files} = {g}"""
        head = ""
        if header:
            # the file's columns are written in reverse order, so occurred_at comes first
            # and carries the byte-order mark
            head = f"SELECT 0, 0::UBIGINT, {nulls}, " + ", ".join(
                _q((chr(0xFEFF) if c == "occurred_at" else "") + c.upper())
                for c in EVENT_COLUMNS)
        ordered = f"{numeric} UNION ALL {bad}{' UNION ALL ' + head if head else ''} ORDER BY _h, _k, en"

        def col(name: str, expr: str) -> str:
            return f"CASE WHEN en IS NULL THEN d_{name} ELSE {expr} END AS {name}"

        return f"""
            SELECT {col('event_id', "'E' || substr((10000000000 + en)::VARCHAR, 2)")},
                   {col('applicant_id', "'P' || substr((100000000 + i + 1)::VARCHAR, 2)")},
                   {col('campaign_id', campaign)},
                   {col('stage', stage)}, {col('outcome', outcome)},
                   {col('occurred_at', ts)}
            FROM (SELECT *, make_timestamp(tt * 1000000) AS ts,
                         (hh(en, 204) % 20)::INTEGER AS v
                  FROM ({ordered}))"""

    def _write_events(self) -> None:
        cols = ", ".join(EVENT_COLUMNS)
        for g, (year, part, name) in enumerate(self.event_files):
            if name == self.bom_file:
                body = self._event_select(year, part, g, header=True)
                rev = ", ".join(EVENT_COLUMNS[::-1])
                rows = self.copy(f"SELECT {rev} FROM ({body})", name, header=False, crlf=True)
                self.rows_by_file[name] = rows - 1
            else:
                self.copy(f"SELECT {cols} FROM ({self._event_select(year, part, g, header=False)})",
                          name)
        if self.dirty:
            _, _, first = self.event_files[0]
            stem, ext = first.rsplit(".", 1)
            resend = f"{stem}_resend.{ext}"
            shutil.copyfile(self.work / first, self.work / resend)
            self.rows_by_file[resend] = self.rows_by_file[first]
            self.planted["identical_redelivered_file"] = 1
            (self.work / "events_garbage.csv").write_bytes(b"this is not,the events\nschema,at all\n")
            self.rows_by_file["events_garbage.csv"] = 0
            self.planted["garbage_file"] = 1

    def _write_optional(self) -> None:
        """campaigns.csv, population.csv, interventions.csv (one planted bad row each)."""
        self._write_campaigns()
        self._write_population()
        self._write_interventions()

    def _write_campaigns(self) -> None:
        camp = [f"({_q(c.campaign_id)}, {_q(c.entry_route)}, {_q(c.title)}, "
                f"{_q(c.opened_on)}, {_q(c.closed_on)}, {n})"
                for n, c in enumerate(CAMPAIGNS) if c.listed]
        if self.dirty:  # an old campaign with no route recorded: rejected (blank required)
            camp.append("('2021-PCDA-0', '', 'Legacy intake (route not recorded)', "
                        "'2021-01-04', '2021-02-03', 99)")
            self.planted["campaigns_bad_row"] = 1
        self.copy("SELECT campaign_id, entry_route, title, opened_on, closed_on FROM (VALUES "
                  + ", ".join(camp) + ") v(campaign_id, entry_route, title, opened_on, "
                  "closed_on, n) ORDER BY n", "campaigns.csv", crlf=True)

    def _write_population(self) -> None:
        pop = [f"({_q(ch)}, {_q(gr)}, {_q(sh)}, {_q(POPULATION_AREA)}, {_q(POPULATION_SOURCE)}, {n})"
               for n, (ch, gr, sh) in enumerate(POPULATION_SHARES)]
        if self.dirty:  # not a canonical group: rejected
            pop.append(f"('ethnicity', 'Gypsy or Irish Traveller', '0.002', "
                       f"{_q(POPULATION_AREA)}, 'survey', 99)")
            self.planted["population_bad_row"] = 1
        self.copy("SELECT characteristic, group_name, population_share, area, source FROM "
                  "(VALUES " + ", ".join(pop) + ") v(characteristic, group_name, "
                  "population_share, area, source, n) ORDER BY n", "population.csv", crlf=True)

    def _write_interventions(self) -> None:
        iv = [
            (f"('INT-1', 'Positive action assessment coaching', {_q(INTERVENTION_START)}, "
             "NULL, 'assessment', NULL, 1)"),
            ("('INT-2', 'Mentoring pilot (one campaign, every stage)', '2023-09-01', "
             "'2024-03-01', NULL, '2023-DHEP-6', 2)"),
        ]
        if self.dirty:  # a date that cannot be parsed: rejected
            iv.append("('INT-3', 'Community open days', 'TBC', NULL, 'sift', NULL, 3)")
            self.planted["interventions_bad_row"] = 1
        self.copy("SELECT intervention_id, name, started_on, ended_on, stage, campaign_id FROM "
                  "(VALUES " + ", ".join(iv) + ") v(intervention_id, name, started_on, "
                  "ended_on, stage, campaign_id, n) ORDER BY n", "interventions.csv", crlf=True)


# --- A force's own funnel (docs/CONTRACT.md section 8) ---------------------------------------------
# What `generate_landing(config=...)` draws for a configured funnel. Shares of the known
# characteristics (sex, ethnicity, disability, sexual orientation, religion) are those of
# the default force; any other characteristic gets a generic mix (below).

#: religion or belief, roughly as police applicants and ONS Census 2021 (England and Wales)
RELIGION_MIX = (("Christian", 0.400), ("No religion", 0.450), ("Muslim", 0.040),
                ("Hindu", 0.012), ("Sikh", 0.008), ("Jewish", 0.003), ("Buddhist", 0.004),
                ("Other religion", 0.008), ("Not stated", 0.075))
RELIGION_POPULATION = (("Christian", 0.490), ("No religion", 0.395), ("Muslim", 0.069),
                       ("Hindu", 0.018), ("Sikh", 0.010), ("Jewish", 0.005),
                       ("Buddhist", 0.005), ("Other religion", 0.008))
#: a characteristic the generator does not know: Not stated 3%, the reference group the
#: rest but this share, which the other groups split in proportion 1, 1/2, 1/3, ...
GENERIC_NOT_STATED = 0.03
GENERIC_OTHER_GROUPS = {1: 0.0, 2: 0.20}  # by number of groups; more groups: 0.12 each, <= 0.45
#: in the population, the non-reference groups of a generic characteristic are this much
#: bigger than among applicants (so representation shows them under-represented)
GENERIC_UNDER_REPRESENTATION = 1.3
#: applicants' age at their first application in completed years: relative weight by
#: year of age (the minimum age to apply is 17; most applicants are in their twenties)
APPLICANT_AGE_WEIGHTS: tuple[tuple[int, int, float], ...] = (  # first, last age, weight
    (17, 17, 1.0), (18, 18, 4.0), (19, 19, 5.0), (20, 24, 6.0), (25, 29, 5.5), (30, 34, 4.0),
    (35, 39, 2.6), (40, 44, 1.7), (45, 49, 1.0), (50, 54, 0.5), (55, 59, 0.2), (60, 64, 0.05))
#: the local working-age population (16-64) for population.csv: flat by year of age
POPULATION_AGES = (16, 64)
#: dates of birth: blank, and a not-stated spelling (both -> Not stated, recognised)
DOB_BLANK, DOB_NOT_STATED = 0.015, 0.010

#: the planted pass-rate gaps of a configured funnel (see `planted_disparities`)
GROUP_GAP_BEFORE = 0.50  # middle stage, before INTERVENTION_START
GROUP_GAP_AFTER = 0.75   # from INTERVENTION_START: the gap halved (INT-1)
AGE_GAP_MULTIPLIER = 0.70

#: spare spellings for the planted unknown stages / outcomes when a funnel uses ours
_MORE_UNKNOWN_STAGES = ("Psychometric test", "Home visit", "Reserve list", "Stage 99",
                        "Onboarding", "Exit survey")
_MORE_UNKNOWN_OUTCOMES = ("awaiting result", "tbc", "no show", "n/a", "on file", "queried")
#: longer labels that start with a configured prefix ("Asian or Asian British: Indian"
#: for `asian`); a prefix with none here gets "<Prefix>: other" and "<Prefix> (any other)"
DETAILED_LABELS: tuple[str, ...] = (
    "White: English, Welsh, Scottish, Northern Irish or British", "White: Irish",
    "White: Gypsy or Irish Traveller", "White: Roma", "White: Other White",
    "Asian or Asian British: Indian", "Asian or Asian British: Pakistani",
    "Asian or Asian British: Bangladeshi", "Asian or Asian British: Chinese",
    "Asian or Asian British: Any other Asian background",
    "Black, Black British, Caribbean or African: African",
    "Black, Black British, Caribbean or African: Caribbean",
    ("Black, Black British, Caribbean or African: Any other Black, Black British, or "
     "Caribbean background"),
    "Mixed or Multiple ethnic groups: White and Asian",
    "Mixed or Multiple ethnic groups: White and Black Caribbean",
    "Mixed or Multiple ethnic groups: White and Black African",
    "Mixed or Multiple ethnic groups: Any other Mixed or Multiple ethnic background",
    "Other ethnic group: Arab", "Other ethnic group: Any other ethnic group",
    ("Christian (including Church of England, Catholic, Protestant and all other Christian "
     "denominations)"), "Christian: Catholic", "Christian: Church of England",
)


def _ident(name: str) -> str:
    """A SQL identifier: the config's column names are reviewed input, but still input."""
    return '"' + name.replace('"', '""') + '"'


def _cap(text: str) -> str:
    """`f` -> `F`, `woman` -> `Woman`: how a synonym is often typed."""
    return text.upper() if len(text) <= 2 else text[:1].upper() + text[1:]


def _same_key(variants: list[str], original: str) -> list[str]:
    """The variants that still match `original` (trimmed, case-insensitive): upper-casing
    can change a word (`ß` -> `SS`), which would make a valid spelling invalid."""
    key = original.strip().lower()
    return [v for v in variants if v.strip().lower() == key]


def _match(ch: Characteristic, value: str | None, not_stated: tuple[str, ...]) -> str | None:
    """Section 8 matching of a delivered value: its group, Not stated, or None when the
    value is not recognised. Only used to check the spellings this module writes."""
    v = "" if value is None else value.strip().lower()
    if v == "" or v in not_stated:
        return NOT_STATED
    if v in ch.spellings:
        return ch.spellings[v]
    best = None
    for p in ch.prefixes:
        if (v == p or (v.startswith(p) and not "a" <= v[len(p)] <= "z")) and (
                best is None or len(p) > len(best)):
            best = p
    return ch.prefixes[best] if best is not None else None


def _thousandths(weights: list[float]) -> list[int]:
    """Shares in thousandths that sum to exactly 1,000 (largest remainder), so that
    population.csv's shares of a characteristic add up to 1."""
    total = sum(weights)
    raw = [1000 * w / total for w in weights]
    out = [math.floor(r) for r in raw]
    for k in sorted(range(len(raw)), key=lambda k: (out[k] - raw[k], k))[:1000 - sum(out)]:
        out[k] += 1
    return out


def _age_weights() -> dict[int, float]:
    return {a: w for first, last, w in APPLICANT_AGE_WEIGHTS for a in range(first, last + 1)}


def _band_ranges(ch: Characteristic) -> list[tuple[str, int, int]]:
    """(group, first age, first age not in it) per band; the last band ends at 200."""
    out, low = [], 0
    for band in ch.bands:
        high = band.below if band.below is not None else 200
        out.append((band.group, low, high))
        low = high
    return out


@dataclass(frozen=True)
class _Column:
    """One applicants-file column of a configured funnel and how its values are drawn.

    A delivered characteristic's values are codes 0..k-1 (its groups in file order) and
    k (Not stated), each written with one of `spellings[code]`; an age band's column
    holds a date of birth (`mix` and `spellings` empty)."""

    j: int  # SQL columns g{j} (delivered code) / dob{j}, bk{j}, a{j} (age band)
    header: str
    characteristic: Characteristic
    mix: tuple[tuple[str, float], ...] = ()
    spellings: tuple[tuple[str | None, ...], ...] = ()
    #: population.csv: (group, share in thousandths); empty = no rows
    population: tuple[tuple[str, int], ...] = ()
    #: a value the characteristic does not recognise (dirty)
    unrecognised: str = ""
    #: what an older delivery held (the person had not answered yet)
    stale: str | None = None

    @property
    def kind(self) -> str:
        return self.characteristic.kind

    @property
    def not_stated_code(self) -> int:
        return len(self.characteristic.groups)


@dataclass(frozen=True)
class _Plan:
    """Everything `_ConfigGenerator` draws, worked out from the configuration alone."""

    config: FunnelConfig
    columns: tuple[_Column, ...]
    stages: tuple[StageModel, ...]
    #: (column, group code, stage order): the middle-stage gap of a delivered group
    group_gap: tuple[_Column, int, int] | None
    #: (column, band code, stage order): the gap of the youngest band
    age_gap: tuple[_Column, int, int] | None

    @property
    def retention_gap(self) -> tuple[_Column, int] | None:
        return self.group_gap[:2] if self.group_gap else None


def _stage_models(config: FunnelConfig) -> tuple[StageModel, ...]:
    """Withdrawal, pass rates and days between stages for any number of stages, shaped
    after the default force: an eligibility check, a hard sift (0.55) and assessment
    (0.62), then stages each passed by ~85-93% (together ~0.58), and a final offer
    (0.97); so 10-20% of applications end in an appointment whatever the length."""
    n = len(config.stages)
    middle = max(n - 4, 1)
    rest = max(0.85, 0.58 ** (1 / middle))
    out = []
    for s in config.stages:
        if s.order == 1:
            m = (0.05, 0.95, None, None)
        elif s.order == n:
            m = (0.03, 0.97, 14, 35)
        elif s.order == 2:
            m = (0.04, 0.55, 3, 10)
        elif s.order == 3:
            m = (0.07, 0.62, 7, 18)
        else:
            m = (0.03, round(rest / 0.97, 4), 7, 14)
        out.append(StageModel(s.name, s.order, *m))
    return tuple(out)


def _gap_stages(n: int) -> tuple[int, int]:
    """(stage of the group gap, stage of the age gap): the middle stage (the default's
    assessment for five stages) and the second stage (its sift), or the final stage when
    the second is the middle one."""
    middle = n // 2 + 1
    age = 2 if middle != 2 else n
    return middle, age


def _default_population(characteristic: str) -> tuple[tuple[str, float], ...]:
    return tuple((g, float(v)) for c, g, v in POPULATION_SHARES if c == characteristic)


def _delivered_column(j: int, ch: Characteristic, config: FunnelConfig) -> _Column:
    lower = [g.lower() for g in ch.groups]
    known = {
        frozenset(g.lower() for g, _ in mix[:-1]): (mix, pop)
        for mix, pop in (
            (SEX_MIX, _default_population("sex")), (ETHNICITY_MIX, _default_population("ethnicity")),
            (DISABILITY_MIX, _default_population("disability")),
            (ORIENTATION_MIX, _default_population("sexual_orientation")),
            (RELIGION_MIX, RELIGION_POPULATION))
    }.get(frozenset(lower))
    if known is not None:
        mix, pop = known
        share = {g.lower(): p for g, p in mix}
        weights = [share[g] for g in lower]
        ns = share["not stated"]
        by_group = {g.lower(): v for g, v in pop}
        population = [by_group[g] for g in lower]
    else:
        k = len(ch.groups)
        other = GENERIC_OTHER_GROUPS.get(k, min(0.45, 0.12 * (k - 1)))
        ns = GENERIC_NOT_STATED
        ref = ch.groups.index(ch.reference_group)
        rank = {g: r for r, g in enumerate(
            (g for g in range(k) if g != ref), start=1)}
        harmonic = sum(1 / r for r in rank.values()) or 1
        weights = [1 - ns - other if g == ref else other / rank[g] / harmonic
                   for g in range(k)]
        population = [w * (1 if g == ref else GENERIC_UNDER_REPRESENTATION)
                      for g, w in enumerate(weights)]
    scale = (1 - ns) / sum(weights)
    mix = tuple((g, w * scale) for g, w in zip(ch.groups, weights)) + ((NOT_STATED, ns),)
    spellings = tuple(_group_spellings(ch, g, config.not_stated) for g in ch.groups) + (
        _not_stated_spellings(config.not_stated),)
    return _Column(
        j=j, header=ch.column or ch.name, characteristic=ch, mix=mix, spellings=spellings,
        population=tuple(zip(ch.groups, _thousandths(population))),
        unrecognised=_unrecognised(ch, config.not_stated),
        stale=_cap(config.not_stated[0]) if config.not_stated and j % 2 else None)


def _group_spellings(ch: Characteristic, group: str, not_stated: tuple[str, ...]
                     ) -> tuple[str, ...]:
    """How one group arrives: mostly its name (odd case, stray spaces), sometimes a
    synonym, a prefix or a longer label starting with a prefix; every one is checked to
    match back to `group`."""
    out = _same_key([group] * 6 + [group.lower(), group.upper(), f" {group}", f"{group}  "],
                    group)
    for spelling, target in ch.spellings.items():
        if target == group and spelling != group.lower():
            out += _same_key([spelling, _cap(spelling)], spelling)
    for prefix, target in ch.prefixes.items():
        if target != group:
            continue
        longer = [label for label in DETAILED_LABELS if label.lower().startswith(prefix)][:6] \
            or [f"{_cap(prefix)}: other", f"{_cap(prefix)} (any other)"]
        out += longer + [_cap(prefix)]
    return tuple(v for v in out if _match(ch, v, not_stated) == group)


def _not_stated_spellings(not_stated: tuple[str, ...]) -> tuple[str | None, ...]:
    """Blank (twice as often) and the configured not-stated spellings."""
    return (None, None, *(_cap(s) for s in not_stated))


def _unrecognised(ch: Characteristic, not_stated: tuple[str, ...]) -> str:
    """A typo of a group name (`Mlae`) that the characteristic does not recognise."""
    candidates = [g[0] + g[2] + g[1] + g[3:] for g in (ch.reference_group, *ch.groups)
                  if len(g) >= 3] + ["N/K", "Not known (see notes)", "??"]
    return next(c for c in candidates if _match(ch, c, not_stated) is None)


def _age_column(j: int, ch: Characteristic, config: FunnelConfig) -> _Column:
    """A date-of-birth column; population.csv gets the bands that hold working-age people."""
    ages = range(POPULATION_AGES[0], POPULATION_AGES[1] + 1)
    held = [(g, sum(1 for a in ages if low <= a < high)) for g, low, high in _band_ranges(ch)]
    held = [(g, w) for g, w in held if w]
    return _Column(j=j, header=ch.column or ch.name, characteristic=ch,
                   population=tuple(zip((g for g, _ in held),
                                        _thousandths([w for _, w in held]))),
                   unrecognised="31/02/1990", stale=None)


def _plan(config: FunnelConfig) -> _Plan:
    """The applicants columns (each configured column once; `applicant_id` itself is never
    a characteristic's column), the stage model and the planted gaps of `config`."""
    columns: list[_Column] = []
    seen = {"applicant_id"}
    for ch in config.characteristics:
        if ch.kind == "derived" or (ch.column or "").strip().lower() in seen:
            continue
        seen.add((ch.column or "").strip().lower())
        make = _delivered_column if ch.kind == "delivered" else _age_column
        columns.append(make(len(columns) + 1, ch, config))
    middle, age_stage = _gap_stages(len(config.stages))
    group_gap = next(((c, next(k for k, g in enumerate(c.characteristic.groups)
                                if g != c.characteristic.reference_group), middle)
                      for c in columns if c.kind == "delivered"
                      and len(c.characteristic.groups) >= 2), None)
    age_gap = None
    weights = _age_weights()
    for c in columns:
        if c.kind != "age":
            continue
        for code, (group, low, high) in enumerate(_band_ranges(c.characteristic)):
            share = sum(w for a, w in weights.items() if low <= a < high) / sum(weights.values())
            if group != c.characteristic.reference_group and share >= 0.01:
                age_gap = (c, code, age_stage)
                break
        break
    return _Plan(config, tuple(columns), _stage_models(config), group_gap, age_gap)


def _is_default(config: FunnelConfig) -> bool:
    return config.sha256 == load_config(None).sha256


def _resolve(config: FunnelConfig | str | Path | None) -> FunnelConfig | None:
    """None for the built-in default funnel (the default force's generator)."""
    if config is None:
        return None
    if not isinstance(config, FunnelConfig):
        config = load_config(config)
    return None if _is_default(config) else config


def planted_disparities(config: FunnelConfig | str | Path | None = None
                        ) -> list[tuple[str, str, str]]:
    """(characteristic, group, stage) planted to be flagged in marts.stage_pass_rates at
    the demo size (5,000 applicants).

    The default funnel: `PLANTED_DISPARITIES`. Any other: the first non-reference group
    of the first delivered characteristic with at least two groups at the middle stage
    (stage N // 2 + 1: 0.5x its reference group's pass rate before INTERVENTION_START,
    0.75x from then, about 0.6x overall), and the youngest age band that is not the
    reference group and holds at least 1% of applicants (of the first age
    characteristic) at the second stage (the final stage when the second is the middle
    one), 0.7x. Either is left out when the funnel has no such characteristic.
    """
    resolved = _resolve(config)
    if resolved is None:
        return list(PLANTED_DISPARITIES)
    plan = _plan(resolved)
    out = []
    for gap in (plan.group_gap, plan.age_gap):
        if gap is not None:
            column, code, stage = gap
            out.append((column.characteristic.name, column.characteristic.groups[code],
                        resolved.stages[stage - 1].name))
    return out


def planted_retention_gap(config: FunnelConfig | str | Path | None = None
                          ) -> tuple[str, str] | None:
    """(characteristic, group) whose recruits leave about twice as often in their first
    year (`RETENTION_GAP_FIRST_YEAR`), planted to be flagged in marts.retention at the
    demo size: women for the default funnel; for any other, the group of the
    middle-stage gap (None without a delivered characteristic of two groups)."""
    resolved = _resolve(config)
    if resolved is None:
        return RETENTION_GAP
    gap = _plan(resolved).retention_gap
    return (gap[0].characteristic.name, gap[0].characteristic.groups[gap[1]]) if gap else None


def _header_variant(header: str, j: int) -> str:
    """applicants_02's header: upper case or Title_Case, matched case-insensitively."""
    variant = header.upper() if j % 2 else "_".join(w[:1].upper() + w[1:]
                                                    for w in header.split("_"))
    return variant if variant.strip().lower() == header.strip().lower() else header


class _ConfigGenerator(_Generator):
    """The generator for a configured funnel (any stages and characteristics).

    The shared steps (campaigns, placing and writing events, dirty event rows, leavers)
    are the default force's; people, applications, applicants files, population and
    interventions follow `_Plan`. Where the draws are new their salts are new too:
    1000 + j ... 1400 + j for applicants column j (fine for fewer than 100 columns), 2000 +
    k, 3000 + k, 4000 + k for stage k's duration, withdrawal and pass."""

    def __init__(self, con: duckdb.DuckDBPyConnection, work: Path, *, config: FunnelConfig,
                 **kwargs: Any) -> None:
        super().__init__(con, work, **kwargs)
        self.config = config
        self.plan = _plan(config)
        n = len(config.stages)
        self.n_stages = n
        self.slots = max(8, n + 3)
        self.stage_names = tuple(s.name for s in config.stages)
        self.stage_spellings = {
            s.order: (*_same_key([s.name, s.name, _cap(s.name), s.name.upper(),
                                  f" {s.name.upper()}", f"{s.name} "], s.name),
                      *(v for a in s.aliases for v in _same_key([a, a.title()], a)))
            for s in config.stages}
        self.outcome_spellings = {
            code: (*_same_key([name, name, name.capitalize(), name.upper()], name),
                   *(v for a in config.outcomes[name] for v in _same_key([a, _cap(a)], a)))
            for code, name in enumerate(("passed", "failed", "withdrawn"))}
        known = {v.strip().lower() for vs in self.stage_spellings.values() for v in vs}
        self.unknown_stages = tuple(
            u for u in UNKNOWN_STAGES + _MORE_UNKNOWN_STAGES if u.lower() not in known)[:3]
        known = {v.strip().lower() for vs in self.outcome_spellings.values() for v in vs}
        self.unknown_outcomes = tuple(
            u for u in UNKNOWN_OUTCOMES + _MORE_UNKNOWN_OUTCOMES if u.lower() not in known)[:3]
        gap = self.plan.retention_gap
        self.retention_gap_sql = f"g{gap[0].j} = {gap[1]}" if gap else "false"

    # -- people and applications
    def _people(self) -> None:
        nc = self.n_campaigns
        total = sum(c.weight for c in CAMPAIGNS)
        c1 = _code_sql("uu(i, 5)", tuple((c.campaign_id, c.weight / total) for c in CAMPAIGNS))
        self.n01 = max(1, math.ceil(self.n * 0.55))
        step = max(397, self.n01 // 250)
        weights = _age_weights()
        total_age = sum(weights.values())
        age_mix = tuple((str(a), w / total_age) for a, w in sorted(weights.items()))
        first_age = min(weights)
        draws, dates = [], []
        for col in self.plan.columns:
            j = col.j
            if col.kind == "delivered":
                draws.append(f"{_code_sql(f'uu(i, {1000 + j})', col.mix)}::TINYINT AS g{j}")
                continue
            # age at the first application: a whole year from APPLICANT_AGE_WEIGHTS plus
            # a fraction, so birthdays fall on any day; the date of birth follows from
            # the first application's date (its first-stage outcome, as in _applications)
            age = f"({first_age} + {_code_sql(f'uu(i, {1100 + j})', age_mix)} + uu(i, {1200 + j}))"
            dates.append(f"DATE '1970-01-01' + CAST(t1f // 86400 - floor({age} * 365.2425) "
                         f"AS INTEGER) AS dob{j}")
            draws.append(f"(CASE WHEN uu(i, {1300 + j}) < {DOB_BLANK} THEN 1 "
                         f"WHEN uu(i, {1300 + j}) < {DOB_BLANK + DOB_NOT_STATED} THEN 2 "
                         f"ELSE 0 END)::TINYINT AS bk{j}")
        self.sql(f"""
            CREATE TABLE people AS
            WITH base AS (
                SELECT i, {c1}::TINYINT AS c1,
                       CASE WHEN uu(i, 6) < {SECOND_APPLICATION_RATE} AND {c1} < {nc - 1}
                            THEN ({c1} + 1 + floor(uu(i, 7) * ({nc - 1} - {c1})))::TINYINT
                       END AS c2
                       {''.join(', ' + d for d in draws)}
                FROM range({self.n}) t(i)
            )
            SELECT base.*,
                   {''.join(d + ', ' for d in dates)}
                   i < {self.n01} AS in_01,
                   (i < {self.n01} AND i % {step} = 7) AS redelivered,
                   0::TINYINT AS unrec,      -- j: column j holds an unrecognised value (dirty)
                   false AS omitted,         -- no applicants row (dirty)
                   false AS repeated         -- stale row then true row in one file (dirty)
            FROM (SELECT base.*,
                         cam.open_s + CAST(floor(uu(i * 2, 20) * cam.window_s) AS BIGINT) AS t1f
                  FROM base JOIN campaigns cam ON cam.c = base.c1) base
            ORDER BY i
        """)
        self.sql("ALTER TABLE people DROP COLUMN t1f")
        self.planted["redelivered_applicant"] = int(
            self.scalar("SELECT count(*) FROM people WHERE redelivered"))

    def _pick_people(self) -> None:
        used: list[int] = []

        def not_used() -> str:
            return f"i NOT IN ({', '.join(map(str, used))})" if used else "true"

        for col in self.plan.columns:  # one unrecognised value per column
            got = self._pick("people", "i", f"NOT redelivered AND {not_used()}", 1, 900 + col.j)
            used += got
            if got:
                # the pipeline will see Not stated: model it that way too
                model = (f"g{col.j} = {col.not_stated_code}" if col.kind == "delivered"
                         else f"bk{col.j} = 3")
                self.sql(f"UPDATE people SET unrec = {col.j}, {model} WHERE i = {got[0]}")
        self.planted["unrecognised_characteristic"] = int(
            self.scalar("SELECT count(*) FROM people WHERE unrec > 0"))
        got = self._pick("people", "i", f"NOT redelivered AND {not_used()}", 3, 910)
        used += got
        if got:
            self.sql(f"UPDATE people SET omitted = true WHERE i IN ({', '.join(map(str, got))})")
        self.planted["no_applicant_row"] = len(got)
        got = self._pick("people", "i", f"NOT in_01 AND {not_used()}", 2, 911)
        if got:
            self.sql(f"UPDATE people SET repeated = true WHERE i IN ({', '.join(map(str, got))})")
        self.planted["applicant_repeated_in_file"] = len(got)

    def _applications(self) -> None:
        """Applications through the configured stages, without recursion: every stage's
        duration and would-be outcome are drawn up front, the stage is reached when every
        earlier would-be outcome is a pass, and its time is the sum of the durations.
        (Each stage defined from the previous one would nest the SQL expressions 2^N
        deep.) Events after DATA_CUTOFF are not delivered."""
        plan, n = self.plan, self.n_stages
        cutoff, start = _epoch(DATA_CUTOFF), _epoch(INTERVENTION_START)
        codes = [f"p.g{c.j}" if c.kind == "delivered" else f"p.dob{c.j}, p.bk{c.j}"
                 for c in plan.columns] + ["p.unrec"]
        bands = []
        for c in plan.columns:
            if c.kind != "age":
                continue
            j = c.j
            whens = " ".join(f"WHEN age{j} < {b.below} THEN {k}"
                             for k, b in enumerate(c.characteristic.bands) if b.below is not None)
            bands.append(f"CASE WHEN bk{j} <> 0 OR unrec = {j} OR age{j} < 0 THEN "
                         f"{c.not_stated_code} {whens} ELSE {len(c.characteristic.bands) - 1} "
                         f"END::TINYINT AS a{j}")
        ages = "".join(
            f", year(d1) - year(dob{c.j}) - (month(d1) * 100 + day(d1) < month(dob{c.j}) * 100 "
            f"+ day(dob{c.j}))::INT AS age{c.j}" for c in plan.columns if c.kind == "age")
        keep = ", ".join([f"g{c.j}" if c.kind == "delivered" else f"a{c.j}"
                          for c in plan.columns])
        durations = ", ".join(
            f"CAST(86400 * ({m.min_days} + expo(app_idx, {2000 + m.order}, {m.mean_days})) "
            f"AS BIGINT) AS d{m.order}" for m in plan.stages[1:])
        times = ", ".join(f"t1 + {' + '.join(f'd{j}' for j in range(2, k + 1))} AS u{k}"
                          for k in range(2, n + 1))
        would = []
        for m in plan.stages:
            k = m.order
            prob = [f"{m.base_pass}"]
            if plan.group_gap and plan.group_gap[2] == k:
                c, code, _ = plan.group_gap
                prob.append(f"CASE WHEN g{c.j} = {code} THEN (CASE WHEN u{k} >= {start} "
                            f"THEN {GROUP_GAP_AFTER} ELSE {GROUP_GAP_BEFORE} END) ELSE 1 END")
            if plan.age_gap and plan.age_gap[2] == k:
                c, code, _ = plan.age_gap
                prob.append(f"CASE WHEN a{c.j} = {code} THEN {AGE_GAP_MULTIPLIER} ELSE 1 END")
            would.append(f"(CASE WHEN uu(app_idx, {3000 + k}) < {m.withdraw} THEN 2 "
                         f"WHEN uu(app_idx, {4000 + k}) < {' * '.join(prob)} THEN 0 "
                         f"ELSE 1 END)::TINYINT AS w{k}")
        final = []
        for k in range(1, n + 1):
            reached = " AND ".join([f"u{k} <= {cutoff}"] + [f"w{j} = 0" for j in range(1, k)])
            final.append(f"CASE WHEN {reached} THEN u{k} END AS t{k}")
            final.append(f"CASE WHEN {reached} THEN w{k} END AS o{k}")
        self.sql(f"""
            CREATE TABLE apps AS
            WITH a AS (
                SELECT p.i, p.i * 2 + r.k AS app_idx,
                       CASE r.k WHEN 0 THEN p.c1 ELSE p.c2 END AS c, {', '.join(codes)}
                FROM people p CROSS JOIN range(2) r(k)
                WHERE r.k = 0 OR p.c2 IS NOT NULL
            ), b AS (
                SELECT a.*, cam.year,
                       cam.open_s + CAST(floor(uu(app_idx, 20) * cam.window_s) AS BIGINT) AS t1
                FROM a JOIN campaigns cam ON cam.c = a.c
            ), ag AS (
                SELECT *{ages} FROM (SELECT *, DATE '1970-01-01' + CAST(t1 // 86400 AS INTEGER)
                                            AS d1 FROM b)
            ), bd AS (
                SELECT *{''.join(', ' + x for x in bands)}{', ' + durations if durations else ''}
                FROM ag
            ), tt AS (
                SELECT *, t1 AS u1{', ' + times if times else ''} FROM bd
            ), w AS (
                SELECT *, {', '.join(would)} FROM tt
            ), c AS (
                SELECT i, app_idx, c, year, {keep + ', ' if keep else ''}{', '.join(final)}
                FROM w
            )
            SELECT *, ({' + '.join(f'(t{k} IS NOT NULL)::INT' for k in range(1, n + 1))}
                      )::TINYINT AS n_ev,
                   false AS orphan
            FROM c
            ORDER BY app_idx
        """)

    # -- writers
    def _applicant_select(self, where: str, stale: bool, order: int,
                          headers: tuple[str, ...] = ()) -> str:
        names = headers or ("applicant_id", *(c.header for c in self.plan.columns))
        cols = [f"'P' || substr((100000000 + p.i + 1)::VARCHAR, 2) AS {_ident(names[0])}"]
        for c, name in zip(self.plan.columns, names[1:]):
            j = c.j
            if c.kind == "delivered":
                value = (_q(c.stale) if stale else
                         f"CASE WHEN p.unrec = {j} THEN {_q(c.unrecognised)} ELSE "
                         f"{_label_sql(f'p.g{j}', c.spellings, 'p.i', 1400 + j)} END")
            else:
                ns = _q(_cap(self.config.not_stated[0])) if self.config.not_stated else "NULL"
                value = ("NULL" if stale else
                         f"CASE WHEN p.unrec = {j} THEN {_q(c.unrecognised)} "
                         f"WHEN p.bk{j} = 1 THEN NULL WHEN p.bk{j} = 2 THEN {ns} "
                         f"ELSE strftime(p.dob{j}, '%Y-%m-%d') END")
            cols.append(f"{value} AS {_ident(name)}")
        return (f"SELECT {', '.join(cols)}, p.i AS _i, {order} AS _o "
                f"FROM people p WHERE {where}")

    def _write_applicants(self) -> int:
        ext1 = "parquet" if self.fmt == "parquet" else "csv"
        ext2 = "csv" if self.fmt == "csv" else "parquet"
        first = ("applicant_id", *(c.header for c in self.plan.columns))
        second = ("APPLICANT_ID", *(_header_variant(c.header, c.j) for c in self.plan.columns))
        rows = 0
        for name, headers, parts in (
            (f"applicants_01.{ext1}", first,
             (("p.in_01 AND NOT p.omitted AND NOT p.redelivered", False, 1),
              ("p.in_01 AND p.redelivered", True, 1))),
            (f"applicants_02.{ext2}", second,
             (("(NOT p.in_01 OR p.redelivered) AND NOT p.omitted", False, 1),
              ("p.repeated", True, 0))),
        ):
            cols = ", ".join(_ident(h) for h in headers)
            union = " UNION ALL ".join(self._applicant_select(w, s, o, headers)
                                       for w, s, o in parts)
            rows += self.copy(f"SELECT {cols} FROM ({union}) ORDER BY _i, _o", name, crlf=True)
        return rows

    def _write_population(self) -> None:
        """Rows for every characteristic with a known or generic mix: delivered ones,
        age bands (the working-age population by year of age) and derived ones (their
        base's shares summed through `map`). Shares sum to 1 per characteristic."""
        shares: dict[str, list[tuple[str, int]]] = {
            c.characteristic.name: list(c.population) for c in self.plan.columns}
        rows = []
        for ch in self.config.characteristics:
            if ch.kind == "derived" and ch.derived_from in shares:
                total = {g: 0 for g in ch.groups}
                for base_group, t in shares[ch.derived_from]:
                    total[ch.mapping[base_group]] += t
                shares[ch.name] = [(g, t) for g, t in total.items()]
            rows += [(ch.name, g, f"{t / 1000:.3f}") for g, t in shares.get(ch.name, [])]
        values = [f"({_q(c)}, {_q(g)}, {_q(sh)}, {_q(POPULATION_AREA)}, "
                  f"{_q(POPULATION_SOURCE)}, {n})" for n, (c, g, sh) in enumerate(rows)]
        if self.dirty and self.config.characteristics:  # not one of its groups: rejected
            ch = self.config.characteristics[0]
            bad = next(g for g in ("Unlisted group", "Unlisted group (other)", "Zz unlisted")
                       if g.lower() not in {x.lower() for x in ch.groups})
            values.append(f"({_q(ch.name)}, {_q(bad)}, '0.002', {_q(POPULATION_AREA)}, "
                          "'survey', 99999)")
            self.planted["population_bad_row"] = 1
        if not values:
            return
        self.copy("SELECT characteristic, group_name, population_share, area, source FROM "
                  "(VALUES " + ", ".join(values) + ") v(characteristic, group_name, "
                  "population_share, area, source, n) ORDER BY n", "population.csv", crlf=True)

    def _write_interventions(self) -> None:
        """INT-1, positive-action coaching at the stage of the planted group gap (the gap
        is halved from its start), when there is one; INT-2, a campaign-limited mentoring
        pilot at every stage with no planted effect (a null result)."""
        iv = []
        if self.plan.group_gap:
            stage = self.config.stages[self.plan.group_gap[2] - 1]
            iv.append(f"('INT-1', {_q('Positive action coaching: ' + stage.label)}, "
                      f"{_q(INTERVENTION_START)}, NULL, {_q(stage.name)}, NULL, 1)")
        iv.append("('INT-2', 'Mentoring pilot (one campaign, every stage)', '2023-09-01', "
                  "'2024-03-01', NULL, '2023-DHEP-6', 2)")
        if self.dirty:  # a date that cannot be parsed: rejected
            iv.append(f"('INT-3', 'Community open days', 'TBC', NULL, "
                      f"{_q(self.stage_names[1])}, NULL, 3)")
            self.planted["interventions_bad_row"] = 1
        self.copy("SELECT intervention_id, name, started_on, ended_on, stage, campaign_id FROM "
                  "(VALUES " + ", ".join(iv) + ") v(intervention_id, name, started_on, "
                  "ended_on, stage, campaign_id, n) ORDER BY n", "interventions.csv", crlf=True)


# --- Command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m funnel_pipeline.synthetic",
        description="Write a synthetic landing folder (demo or benchmark data).")
    parser.add_argument("--target", required=True, type=Path, help="landing folder to write")
    parser.add_argument("--applicants", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet", "both"), default="csv")
    parser.add_argument("--clean", action="store_true",
                        help="no planted bad input (benchmark data)")
    parser.add_argument("--no-optional", action="store_true",
                        help="skip campaigns.csv, population.csv, interventions.csv, "
                             "leavers_01.csv")
    parser.add_argument("--events-per-file", type=int, default=None)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--config", type=Path, default=None,
                        help="a funnel configuration file (docs/CONTRACT.md section 8); "
                             "default: the built-in funnel")
    args = parser.parse_args(argv)
    summary = generate_landing(
        args.target, applicants=args.applicants, seed=args.seed, fmt=args.fmt,
        dirty=not args.clean, optional_files=not args.no_optional,
        events_per_file=args.events_per_file, memory_limit=args.memory_limit,
        threads=args.threads, config=args.config)
    print(summary.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
