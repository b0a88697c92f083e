"""Table schemas: the one place column names and types live.

SQLModel classes describe every table the pipeline owns in the raw, config, core,
quality and bookkeeping layers. We do not push rows through the ORM (bulk work is DuckDB SQL from
`sql/`); we compile these classes to DuckDB DDL (`ddl_statements`) so the schema is
declared once, typed, and reviewable.

Marts are not declared here: their columns are defined by docs/CONTRACT.md and produced by
the SQL files in `sql/marts/`, which `tests/` compare column-by-column with the contract.

Stages and characteristics are a force's configuration, so no table has a column per
stage or per characteristic: per-stage facts of an application are lists indexed by
`stage_order` (`outcomes[3]` is the outcome at the third configured stage) and its groups
a list indexed by the characteristic's `position` in `config.characteristics`. SQL
reads positions from the `config.*` tables, never a name.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Every landed column is kept as delivered text; JSON holds the columns beyond the contract.
Text = sa.String
TextList = sa.ARRAY(sa.String)


def _text(**kw) -> object:
    return Field(default=None, sa_type=Text, nullable=True, **kw)


# --- raw: every delivered row, as text, with its file and row number --------------------


class LandingFile(SQLModel, table=True):
    """Manifest: one row per file seen in the landing folder (what, when, how it went)."""

    __tablename__ = "landing_files"
    __table_args__ = {"schema": "raw"}

    file_id: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    file_name: str = Field(sa_type=Text, unique=True)
    kind: str = Field(sa_type=Text)  # events / applicants / campaigns / population / interventions / leavers / unknown
    file_format: str | None = _text()  # csv / parquet / None when not recognised
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    #: modification time (ns since the epoch) when it was hashed: a later stat that
    #: differs means the file may have changed since it was loaded
    modified_ns: int | None = Field(default=None, sa_type=sa.BigInteger)
    sha256: str | None = _text()
    status: str = Field(sa_type=Text)  # loaded / duplicate / failed
    reason: str | None = _text()  # why it failed (no row values)
    duplicate_of: str | None = _text()  # name of the earlier file with identical bytes
    columns_delivered: str | None = _text()  # JSON list of header names as delivered
    rows_delivered: int = Field(default=0, sa_type=sa.BigInteger)
    discovered_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    run_id: str | None = _text()
    #: set when the core layer has consumed this file's rows (the incremental cursor)
    processed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class _RawRow(SQLModel):
    file_id: int = Field(primary_key=True, sa_type=sa.Integer)
    row_number: int = Field(primary_key=True, sa_type=sa.BigInteger)  # 1-based data row
    extra_columns: str | None = _text()  # JSON object of non-contract columns, as delivered


class EventRow(_RawRow, table=True):
    __tablename__ = "event_rows"
    __table_args__ = {"schema": "raw"}
    event_id: str | None = _text()
    applicant_id: str | None = _text()
    campaign_id: str | None = _text()
    stage: str | None = _text()
    outcome: str | None = _text()
    occurred_at: str | None = _text()


class ApplicantRow(SQLModel, table=True):
    """An applicants row as delivered: its id, and every other column in `attributes`.

    Which columns hold characteristics is the configuration's business, so they are not
    columns here: `attributes` is a JSON object of every delivered column but
    applicant_id, keyed by the header trimmed and lower-cased (headers match
    case-insensitively), values as delivered text.
    """

    __tablename__ = "applicant_rows"
    __table_args__ = {"schema": "raw"}
    file_id: int = Field(primary_key=True, sa_type=sa.Integer)
    row_number: int = Field(primary_key=True, sa_type=sa.BigInteger)
    applicant_id: str | None = _text()
    attributes: str | None = _text()


class CampaignRow(_RawRow, table=True):
    __tablename__ = "campaign_rows"
    __table_args__ = {"schema": "raw"}
    campaign_id: str | None = _text()
    entry_route: str | None = _text()
    title: str | None = _text()
    opened_on: str | None = _text()
    closed_on: str | None = _text()


class PopulationRow(_RawRow, table=True):
    __tablename__ = "population_rows"
    __table_args__ = {"schema": "raw"}
    characteristic: str | None = _text()
    group_name: str | None = _text()
    population_share: str | None = _text()
    area: str | None = _text()
    source: str | None = _text()


class LeaverRow(_RawRow, table=True):
    __tablename__ = "leaver_rows"
    __table_args__ = {"schema": "raw"}
    applicant_id: str | None = _text()
    left_on: str | None = _text()
    reason: str | None = _text()


class InterventionRow(_RawRow, table=True):
    __tablename__ = "intervention_rows"
    __table_args__ = {"schema": "raw"}
    intervention_id: str | None = _text()
    name: str | None = _text()
    started_on: str | None = _text()
    ended_on: str | None = _text()
    stage: str | None = _text()
    campaign_id: str | None = _text()


# --- quality: what was rejected and why -------------------------------------------------


class RejectedRow(SQLModel, table=True):
    """A delivered row left out of every metric, kept whole with its reason."""

    __tablename__ = "rejected_rows"
    __table_args__ = {"schema": "quality"}
    file_id: int = Field(primary_key=True, sa_type=sa.Integer)
    row_number: int = Field(primary_key=True, sa_type=sa.BigInteger)
    kind: str = Field(sa_type=Text)
    file_name: str = Field(sa_type=Text)
    reason: str = Field(sa_type=Text)
    #: `landing` (the file's reader: a malformed CSV record) or `core` (a rule of the
    #: contract, judged with the configuration: recomputed when the configuration changes)
    rejected_by: str = Field(default="core", sa_type=Text,
                             sa_column_kwargs={"server_default": "core"})
    #: every delivered column (contract and extra) under its delivered header, as text
    row_data: str = Field(sa_type=Text)
    rejected_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class ConflictingKey(SQLModel, table=True):
    """Keys seen with two different contents: every copy, now and later, is rejected."""

    __tablename__ = "conflicting_keys"
    __table_args__ = {"schema": "quality"}
    kind: str = Field(primary_key=True, sa_type=Text)
    key_value: str = Field(primary_key=True, sa_type=Text)


# --- core: typed, canonical ----------------------------------------------------------


# --- config: the force's funnel, written from the configuration file once per run -----


class ConfigStage(SQLModel, table=True):
    """A configured stage; `stage_order` is its position in the file (1..N)."""

    __tablename__ = "stages"
    __table_args__ = {"schema": "config"}
    stage_order: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    stage: str = Field(sa_type=Text)
    label: str = Field(sa_type=Text)
    #: roles (docs/CONTRACT.md §8): the first stage enters the funnel, the last is the final stage
    #: (appointment, recruits), sift_stage feeds the publication's sifted / progressed
    is_first: bool = Field(sa_type=sa.Boolean)
    is_final: bool = Field(sa_type=sa.Boolean)
    is_sift: bool = Field(sa_type=sa.Boolean)


class StageSpelling(SQLModel, table=True):
    """Every accepted spelling (lower case: name or alias) of a stage."""

    __tablename__ = "stage_spellings"
    __table_args__ = {"schema": "config"}
    spelling: str = Field(primary_key=True, sa_type=Text)
    stage_order: int = Field(sa_type=sa.Integer)


class OutcomeSpelling(SQLModel, table=True):
    __tablename__ = "outcome_spellings"
    __table_args__ = {"schema": "config"}
    spelling: str = Field(primary_key=True, sa_type=Text)
    outcome: str = Field(sa_type=Text)


class ConfigCharacteristic(SQLModel, table=True):
    """A monitored characteristic; `position` indexes every `groups` list."""

    __tablename__ = "characteristics"
    __table_args__ = {"schema": "config"}
    position: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    characteristic: str = Field(sa_type=Text)
    label: str = Field(sa_type=Text)
    kind: str = Field(sa_type=Text)  # delivered / derived / age
    #: delivered and age: the applicants-file column, trimmed and lower-cased
    source_column: str | None = _text()
    #: derived: position of the characteristic it is derived from
    base_position: int | None = Field(default=None, sa_type=sa.Integer)
    reference_group: str = Field(sa_type=Text)
    intersectional: bool = Field(sa_type=sa.Boolean)


class ConfigGroup(SQLModel, table=True):
    """A canonical group of a characteristic, in display order (Not stated last)."""

    __tablename__ = "groups"
    __table_args__ = {"schema": "config"}
    characteristic: str = Field(primary_key=True, sa_type=Text)
    group_name: str = Field(primary_key=True, sa_type=Text)
    position: int = Field(sa_type=sa.Integer)
    label: str = Field(sa_type=Text)


class GroupSpelling(SQLModel, table=True):
    """Delivered characteristics: a lower-case spelling (group name, synonym, not-stated
    spelling, '' for blank) → its group."""

    __tablename__ = "group_spellings"
    __table_args__ = {"schema": "config"}
    characteristic: str = Field(primary_key=True, sa_type=Text)
    spelling: str = Field(primary_key=True, sa_type=Text)
    group_name: str = Field(sa_type=Text)


class GroupPrefix(SQLModel, table=True):
    """Delivered characteristics: leading words (lower case) → group (docs/CONTRACT.md §8)."""

    __tablename__ = "group_prefixes"
    __table_args__ = {"schema": "config"}
    characteristic: str = Field(primary_key=True, sa_type=Text)
    prefix: str = Field(primary_key=True, sa_type=Text)
    group_name: str = Field(sa_type=Text)


class DerivedGroup(SQLModel, table=True):
    __tablename__ = "derived_groups"
    __table_args__ = {"schema": "config"}
    characteristic: str = Field(primary_key=True, sa_type=Text)
    base_group: str = Field(primary_key=True, sa_type=Text)
    group_name: str = Field(sa_type=Text)


class AgeBand(SQLModel, table=True):
    """Age bands in order; an age belongs to the first band whose `below` exceeds it."""

    __tablename__ = "age_bands"
    __table_args__ = {"schema": "config"}
    characteristic: str = Field(primary_key=True, sa_type=Text)
    position: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    group_name: str = Field(sa_type=Text)
    below: int | None = Field(default=None, sa_type=sa.Integer)


class Intersection(SQLModel, table=True):
    """A pair of intersectional characteristics, e.g. `sex x ethnic_minority`."""

    __tablename__ = "intersections"
    __table_args__ = {"schema": "config"}
    position: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    characteristic: str = Field(sa_type=Text)
    first_position: int = Field(sa_type=sa.Integer)
    second_position: int = Field(sa_type=sa.Integer)
    reference_group: str = Field(sa_type=Text)


class AppliedConfig(SQLModel, table=True):
    """Every configuration a run applied: which file, its hash, when, by which run."""

    __tablename__ = "applied"
    __table_args__ = {"schema": "config"}
    applied_at: datetime = Field(primary_key=True, sa_type=sa.DateTime(timezone=True))
    run_id: str | None = _text()
    name: str = Field(sa_type=Text)
    sha256: str = Field(sa_type=Text)
    #: True when it differed from the configuration before, so every table was recomputed
    recomputed: bool = Field(sa_type=sa.Boolean)
    #: the file's text as read (later steps of the run read the funnel from here)
    definition: str = Field(sa_type=Text)


class Event(SQLModel, table=True):
    """One accepted event per event_id (identical re-deliveries counted once)."""

    __tablename__ = "events"
    __table_args__ = {"schema": "core"}
    event_id: str = Field(primary_key=True, sa_type=Text)
    applicant_id: str = Field(sa_type=Text)
    campaign_id: str = Field(sa_type=Text)
    stage: str = Field(sa_type=Text)
    stage_order: int = Field(sa_type=sa.Integer)
    outcome: str = Field(sa_type=Text)
    occurred_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    file_id: int = Field(sa_type=sa.Integer)  # first delivery
    row_number: int = Field(sa_type=sa.BigInteger)


class Applicant(SQLModel, table=True):
    """One row per person: the winning applicants row, its attributes kept as delivered.

    `groups[position]` is the person's group for each delivered characteristic; derived
    and age-band positions are NULL here (they depend on an application: its date, and
    the derived characteristic's base), and `birth_dates[position]` holds a valid date
    of birth for an age band (NULL when blank, not stated or malformed: those are Not
    stated already). `unrecognised` names the characteristics whose value was not
    recognised.
    """

    __tablename__ = "applicants"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    groups: list[str] = Field(sa_type=TextList)
    birth_dates: list[date] = Field(sa_type=sa.ARRAY(sa.Date))
    unrecognised: list[str] = Field(sa_type=TextList)
    attributes: str | None = _text()
    file_id: int = Field(sa_type=sa.Integer)
    row_number: int = Field(sa_type=sa.BigInteger)


class StageOutcome(SQLModel, table=True):
    """The outcome of an application at a stage: its latest accepted event (docs/CONTRACT.md §4)."""

    __tablename__ = "stage_outcomes"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    stage_order: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    stage: str = Field(sa_type=Text)
    outcome: str = Field(sa_type=Text)
    occurred_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    event_id: str = Field(sa_type=Text)


class Application(SQLModel, table=True):
    """One row per application (applicant × campaign): its stage outcomes and times as
    lists by stage_order, its groups as a list by characteristic position (Not stated
    everywhere without an applicants row). `in_funnel` is false until a first-stage event
    arrives (orphans); `application_year` is the UTC year of that first-stage outcome."""

    __tablename__ = "applications"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    in_funnel: bool = Field(sa_type=sa.Boolean)
    has_applicant_row: bool = Field(sa_type=sa.Boolean)
    application_year: int | None = Field(default=None, sa_type=sa.Integer)
    outcomes: list[str] = Field(sa_type=TextList)
    occurred_at: list[datetime] = Field(sa_type=sa.ARRAY(sa.DateTime(timezone=True)))
    groups: list[str] = Field(sa_type=TextList)
    #: characteristics whose value was not recognised (the person's, plus an age band
    #: whose date of birth is after this application's date)
    unrecognised: list[str] = Field(sa_type=TextList)
    #: stages with an outcome but no pass at the stage before (counted, and reported)
    out_of_sequence_stages: int = Field(default=0, sa_type=sa.Integer)


class FunnelCell(SQLModel, table=True):
    """The funnel cube: funnel-application counts per campaign × application year × the
    groups of every characteristic (a list, as in core.applications) × stage.

    Maintained incrementally by `sql/core/applications.sql` (old rows of recomputed
    applications subtracted, new ones added), so a nightly run's marts sum this small
    table instead of rescanning every application. Cells with no application are dropped.
    """

    __tablename__ = "funnel_cube"
    __table_args__ = {"schema": "core"}
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    application_year: int = Field(primary_key=True, sa_type=sa.Integer)
    groups: list[str] = Field(primary_key=True, sa_type=TextList)
    stage_order: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    #: funnel applications of the cell (the same on each of its stage rows)
    applications: int = Field(sa_type=sa.BigInteger)
    passed: int = Field(sa_type=sa.BigInteger)
    failed: int = Field(sa_type=sa.BigInteger)
    withdrawn: int = Field(sa_type=sa.BigInteger)
    #: passed the previous stage, no outcome at this one (0 at the first stage)
    pending: int = Field(sa_type=sa.BigInteger)


class FisherPValue(SQLModel, table=True):
    """Cache of two-sided Fisher exact p-values of [[a, b], [c, d]] (scipy, in Python).

    Why: the test costs milliseconds per table in Python, and a nightly run changes few
    cells, so the marts look tables up here and test only new ones. Entries not used by
    the latest marts build are dropped (``used_at`` is that build's transaction time).
    """

    __tablename__ = "fisher_p_values"
    __table_args__ = {"schema": "core"}
    a: int = Field(primary_key=True, sa_type=sa.BigInteger)
    b: int = Field(primary_key=True, sa_type=sa.BigInteger)
    c: int = Field(primary_key=True, sa_type=sa.BigInteger)
    d: int = Field(primary_key=True, sa_type=sa.BigInteger)
    p_value: float = Field(sa_type=sa.Double)
    used_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Campaign(SQLModel, table=True):
    """One accepted campaigns row per campaign_id (docs/CONTRACT.md §6): its entry route, trimmed."""

    __tablename__ = "campaigns"
    __table_args__ = {"schema": "core"}
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    entry_route: str = Field(sa_type=Text)
    title: str | None = _text()
    opened_on: date | None = Field(default=None, sa_type=sa.Date)
    closed_on: date | None = Field(default=None, sa_type=sa.Date)
    file_id: int = Field(sa_type=sa.Integer)  # first delivery
    row_number: int = Field(sa_type=sa.BigInteger)
    extra_columns: str | None = _text()


class Population(SQLModel, table=True):
    """One accepted population share per characteristic × canonical group (docs/CONTRACT.md §6)."""

    __tablename__ = "population"
    __table_args__ = {"schema": "core"}
    characteristic: str = Field(primary_key=True, sa_type=Text)
    group_name: str = Field(primary_key=True, sa_type=Text)
    population_share: float = Field(sa_type=sa.Double)
    area: str | None = _text()
    source: str | None = _text()
    file_id: int = Field(sa_type=sa.Integer)
    row_number: int = Field(sa_type=sa.BigInteger)
    extra_columns: str | None = _text()


class Intervention(SQLModel, table=True):
    """One accepted positive-action intervention per intervention_id (docs/CONTRACT.md §6).
    `stage` / `campaign_id` NULL mean every stage / every campaign; `ended_on` exclusive."""

    __tablename__ = "interventions"
    __table_args__ = {"schema": "core"}
    intervention_id: str = Field(primary_key=True, sa_type=Text)
    name: str = Field(sa_type=Text)
    started_on: date = Field(sa_type=sa.Date)
    ended_on: date | None = Field(default=None, sa_type=sa.Date)
    stage: str | None = _text()
    stage_order: int | None = Field(default=None, sa_type=sa.Integer)
    campaign_id: str | None = _text()
    file_id: int = Field(sa_type=sa.Integer)
    row_number: int = Field(sa_type=sa.BigInteger)
    extra_columns: str | None = _text()


class Leaver(SQLModel, table=True):
    """One accepted leavers row per (applicant_id, left_on as delivered) (docs/CONTRACT.md §9)."""

    __tablename__ = "leavers"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    #: the key as delivered, trimmed: `2023-01-01` and `2023-01-01T00:00:00Z` differ
    left_on_delivered: str = Field(primary_key=True, sa_type=Text)
    left_on: datetime = Field(sa_type=sa.DateTime(timezone=True))
    reason: str | None = _text()
    file_id: int = Field(sa_type=sa.Integer)
    row_number: int = Field(sa_type=sa.BigInteger)
    extra_columns: str | None = _text()


class DirtyKey(SQLModel, table=True):
    """Work queue between core steps: keys whose derived rows must be recomputed.

    Written in the same transaction as the change that dirtied them and cleared in the
    transaction that recomputes them, so a crash between steps loses nothing.
    """

    __tablename__ = "dirty_keys"
    __table_args__ = {"schema": "core"}
    kind: str = Field(primary_key=True, sa_type=Text)  # application_key / applicant_key
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    campaign_id: str = Field(primary_key=True, sa_type=Text)  # '' for kind = applicant_key


LANDED_ROW_MODELS: dict[str, type[SQLModel]] = {
    "events": EventRow,
    "applicants": ApplicantRow,
    "campaigns": CampaignRow,
    "population": PopulationRow,
    "interventions": InterventionRow,
    "leavers": LeaverRow,
}
#: the config.* tables, written together from the configuration file
CONFIG_MODELS: tuple[type[SQLModel], ...] = (
    ConfigStage, StageSpelling, OutcomeSpelling, ConfigCharacteristic, ConfigGroup,
    GroupSpelling, GroupPrefix, DerivedGroup, AgeBand, Intersection,
)

ALL_TABLE_MODELS: tuple[type[SQLModel], ...] = (
    LandingFile,
    EventRow,
    ApplicantRow,
    CampaignRow,
    PopulationRow,
    InterventionRow,
    LeaverRow,
    RejectedRow,
    ConflictingKey,
    *CONFIG_MODELS,
    AppliedConfig,
    Event,
    Applicant,
    StageOutcome,
    FunnelCell,
    FisherPValue,
    Application,
    Campaign,
    Population,
    Intervention,
    Leaver,
    DirtyKey,
)


def contract_columns(kind: str) -> list[str]:
    """The contract's columns of a landing-file kind, in declaration order (applicants:
    the id only; their other columns are the configuration's, kept as attributes)."""
    model = LANDED_ROW_MODELS[kind]
    skip = {*_RawRow.model_fields, "attributes"}
    return [name for name in model.model_fields if name not in skip]


def _without_key_constraints(ddl: str) -> str:
    """Drop PRIMARY KEY / UNIQUE clauses from compiled DDL.

    The keys stay declared on the models (they document the grain and drive the GX
    uniqueness checks) but DuckDB does not enforce them: its ART indexes cost minutes and
    gigabytes on 10M-row loads and reject a delete-then-insert of the same key in one
    transaction, which is exactly how our incremental steps replace a slice.
    """
    ddl = re.sub(r",\s*PRIMARY KEY \([^)]*\)", "", ddl)
    ddl = re.sub(r",\s*UNIQUE \([^)]*\)", "", ddl)
    return ddl


def ddl_statements() -> list[str]:
    """`CREATE SCHEMA/TABLE IF NOT EXISTS` for every owned table, compiled for DuckDB."""
    from duckdb_engine import Dialect
    from sqlalchemy.schema import CreateTable

    dialect = Dialect()
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {schema}"
        for schema in ("raw", "config", "core", "quality", "marts", "staging")
    ]
    for model in ALL_TABLE_MODELS:
        ddl = str(CreateTable(model.__table__, if_not_exists=True).compile(dialect=dialect))
        statements.append(_without_key_constraints(ddl.strip()))
    return statements
