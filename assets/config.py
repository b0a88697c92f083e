"""config layer: the force's funnel (docs/CONTRACT.md section 8), checked and applied first.

Every other asset depends on this one, so a bad configuration file stops the run before
anything is read or written, with a message naming the file, the key and the problem.
"""

import dagster as dg

from funnel_pipeline import core, inert
from funnel_pipeline.metadata import markdown_table
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.resources import FunnelWarehouse

FUNNEL = dg.AssetKey(["config", "funnel"])


@dg.asset(
    key=FUNNEL,
    group_name="config",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="The funnel this force configured (FUNNEL_CONFIG, else the built-in default): "
                "stages with their aliases, characteristics with their groups and reference "
                "groups, written to the config.* tables the SQL joins. A changed file "
                "recomputes every table from the landed rows.",
)
def funnel(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    applied = core.apply_configuration(warehouse.settings(), run_id=context.run.run_id)
    config = applied.config
    if applied.changed:
        context.log.warning(f"the funnel configuration changed (now {config.sha256[:12]}): every "
                            "table is recomputed from the landed rows")
    stages = [(s.order, s.name, ", ".join(s.aliases)) for s in config.stages]
    characteristics = [(c.name, c.kind, ", ".join(c.all_groups), c.reference_group)
                       for c in config.characteristics]
    return dg.MaterializeResult(metadata={
        "configuration": dg.MetadataValue.md(inert.md(config.name, 120)),
        "sha256": config.sha256,
        "recomputed_everything": applied.changed,
        "stages": dg.MetadataValue.md(markdown_table(["order", "stage", "aliases"], stages)),
        "characteristics": dg.MetadataValue.md(markdown_table(
            ["characteristic", "kind", "groups", "reference group"], characteristics)),
    })
