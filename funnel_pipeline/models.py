"""Table schemas: the one place column names and types live.

SQLModel classes describe every table the pipeline owns in the raw, core, quality and
bookkeeping layers. We do not push rows through the ORM (bulk work is DuckDB SQL from
`sql/`); we compile these classes to DuckDB DDL (`ddl_statements`) so the schema is
declared once, typed, and reviewable.

Marts are not declared here: their columns are defined by CONTRACT.md and produced by
the SQL files in `sql/marts/`, which `tests/` compare column-by-column with the contract.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Every landed column is kept as delivered text; JSON holds the columns beyond the contract.
Text = sa.String


def _text(**kw) -> object:
    return Field(default=None, sa_type=Text, nullable=True, **kw)


# --- raw: every delivered row, as text, with its file and row number --------------------


class LandingFile(SQLModel, table=True):
    """Manifest: one row per file seen in the landing folder (what, when, how it went)."""

    __tablename__ = "landing_files"
    __table_args__ = {"schema": "raw"}

    file_id: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    file_name: str = Field(sa_type=Text, unique=True)
    kind: str = Field(sa_type=Text)  # events / applicants / campaigns / population / interventions / unknown
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


class ApplicantRow(_RawRow, table=True):
    __tablename__ = "applicant_rows"
    __table_args__ = {"schema": "raw"}
    applicant_id: str | None = _text()
    sex: str | None = _text()
    ethnicity: str | None = _text()
    disability: str | None = _text()
    sexual_orientation: str | None = _text()


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


class Vocabulary(SQLModel, table=True):
    """contract.py written as a table each run, so SQL joins the rules instead of copying them."""

    __tablename__ = "vocabulary"
    __table_args__ = {"schema": "core"}
    domain: str = Field(primary_key=True, sa_type=Text)
    spelling: str = Field(primary_key=True, sa_type=Text)
    canonical: str = Field(sa_type=Text)
    stage_order: int | None = Field(default=None, sa_type=sa.Integer)


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
    """One row per person: the winning applicants row, raw values kept beside canonical groups."""

    __tablename__ = "applicants"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    sex_raw: str | None = _text()
    ethnicity_raw: str | None = _text()
    disability_raw: str | None = _text()
    sexual_orientation_raw: str | None = _text()
    sex: str = Field(sa_type=Text)
    ethnicity: str = Field(sa_type=Text)
    ethnic_minority: str = Field(sa_type=Text)
    disability: str = Field(sa_type=Text)
    sexual_orientation: str = Field(sa_type=Text)
    lgbt_plus: str = Field(sa_type=Text)
    #: names of characteristics whose delivered value was not recognised (→ Not stated)
    unrecognised: str | None = _text()
    file_id: int = Field(sa_type=sa.Integer)
    row_number: int = Field(sa_type=sa.BigInteger)
    extra_columns: str | None = _text()


class StageOutcome(SQLModel, table=True):
    """The outcome of an application at a stage: its latest accepted event (CONTRACT §4)."""

    __tablename__ = "stage_outcomes"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    stage_order: int = Field(primary_key=True, sa_type=sa.Integer)
    stage: str = Field(sa_type=Text)
    outcome: str = Field(sa_type=Text)
    occurred_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    event_id: str = Field(sa_type=Text)


class Application(SQLModel, table=True):
    """One row per application (applicant × campaign): its stage outcomes side by side and
    its groups. `in_funnel` is false until an application-stage event arrives (orphans)."""

    __tablename__ = "applications"
    __table_args__ = {"schema": "core"}
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    in_funnel: bool = Field(sa_type=sa.Boolean)
    has_applicant_row: bool = Field(sa_type=sa.Boolean)
    sex: str = Field(sa_type=Text)
    ethnicity: str = Field(sa_type=Text)
    ethnic_minority: str = Field(sa_type=Text)
    disability: str = Field(sa_type=Text)
    sexual_orientation: str = Field(sa_type=Text)
    lgbt_plus: str = Field(sa_type=Text)
    outcome_1: str | None = _text()
    outcome_2: str | None = _text()
    outcome_3: str | None = _text()
    outcome_4: str | None = _text()
    outcome_5: str | None = _text()
    occurred_at_1: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    occurred_at_2: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    occurred_at_3: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    occurred_at_4: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    occurred_at_5: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    #: stages with an outcome but no pass at the stage before (counted, and reported)
    out_of_sequence_stages: int = Field(default=0, sa_type=sa.Integer)


class FunnelCell(SQLModel, table=True):
    """The funnel cube: funnel-application counts per campaign × the six groups × stage.

    Maintained incrementally by `sql/core/stage_outcomes.sql` (old rows of recomputed
    applications subtracted, new ones added), so a nightly run's marts sum this small
    table instead of rescanning every application. Cells with no application are dropped.
    """

    __tablename__ = "funnel_cube"
    __table_args__ = {"schema": "core"}
    campaign_id: str = Field(primary_key=True, sa_type=Text)
    sex: str = Field(primary_key=True, sa_type=Text)
    ethnicity: str = Field(primary_key=True, sa_type=Text)
    ethnic_minority: str = Field(primary_key=True, sa_type=Text)
    disability: str = Field(primary_key=True, sa_type=Text)
    sexual_orientation: str = Field(primary_key=True, sa_type=Text)
    lgbt_plus: str = Field(primary_key=True, sa_type=Text)
    stage: str = Field(sa_type=Text)
    stage_order: int = Field(primary_key=True, sa_type=sa.Integer)
    #: funnel applications of the cell (the same on each of its stage rows)
    applications: int = Field(sa_type=sa.BigInteger)
    passed: int = Field(sa_type=sa.BigInteger)
    failed: int = Field(sa_type=sa.BigInteger)
    withdrawn: int = Field(sa_type=sa.BigInteger)
    #: passed the previous stage, no outcome at this one (0 at the application stage)
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
    """One accepted campaigns row per campaign_id (CONTRACT §6): its entry route, trimmed."""

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
    """One accepted population share per characteristic × canonical group (CONTRACT §6)."""

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
    """One accepted positive-action intervention per intervention_id (CONTRACT §6).
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


class DirtyKey(SQLModel, table=True):
    """Work queue between core steps: keys whose derived rows must be recomputed.

    Written in the same transaction as the change that dirtied them and cleared in the
    transaction that recomputes them, so a crash between steps loses nothing.
    """

    __tablename__ = "dirty_keys"
    __table_args__ = {"schema": "core"}
    kind: str = Field(primary_key=True, sa_type=Text)  # application / applicant
    applicant_id: str = Field(primary_key=True, sa_type=Text)
    campaign_id: str = Field(primary_key=True, sa_type=Text)  # '' for kind = applicant


LANDED_ROW_MODELS: dict[str, type[_RawRow]] = {
    "events": EventRow,
    "applicants": ApplicantRow,
    "campaigns": CampaignRow,
    "population": PopulationRow,
    "interventions": InterventionRow,
}

ALL_TABLE_MODELS: tuple[type[SQLModel], ...] = (
    LandingFile,
    EventRow,
    ApplicantRow,
    CampaignRow,
    PopulationRow,
    InterventionRow,
    RejectedRow,
    ConflictingKey,
    Vocabulary,
    Event,
    Applicant,
    StageOutcome,
    FunnelCell,
    FisherPValue,
    Application,
    Campaign,
    Population,
    Intervention,
    DirtyKey,
)


def contract_columns(kind: str) -> list[str]:
    """The contract's columns of a landing-file kind, in declaration order."""
    model = LANDED_ROW_MODELS[kind]
    skip = set(_RawRow.model_fields)
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
        for schema in ("raw", "core", "quality", "marts", "staging")
    ]
    for model in ALL_TABLE_MODELS:
        ddl = str(CreateTable(model.__table__, if_not_exists=True).compile(dialect=dialect))
        statements.append(_without_key_constraints(ddl.strip()))
    return statements
