"""Landing folders whose every free-text field holds a payload of `payloads.py` (issue 20).

Why this shape: the drop-out summary (markdown metadata on `marts/drop_out_points`)
quotes only the top `summary.TOP_N` (8) flagged findings, each naming one campaign and
its entry route. So a payload reaches the summary only if its campaign is flagged and
in the top 8. Each round plants exactly 8 flagged campaigns and nothing else flagged:

* campaigns come in pairs sharing one entry route: in the "worse" campaign disabled
  applicants pass the sift at 8/30 against 25/30 for the others (ratio 0.32, Fisher
  p ~ 1e-5: flagged); in its "balancing" twin the rates are swapped. Pooled over a
  pair (the entry route), over all campaigns, and in every intersection the groups
  pass equally, so only the 8 worse campaigns are flagged and all 8 are summarised;
* every worse campaign id and every route is a payload, 16 summary slots per round;
  `rounds()` spreads all payloads over enough rounds (one real run each) that every
  payload takes a summary slot once. Balancing campaigns carry payloads too (they
  appear in the campaign charts, tables and report, not in the summary);
* applicant and event ids, campaign titles, population area/source, intervention
  id/name and an extra column (its header a payload too) in every file carry payloads.

60 applicants per campaign (30 per disability group) keep every group above the
charts' minimum group size, so the campaign and entry-route charts show them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from conftest import write_csv
from payloads import PAYLOADS, Payload

#: flagged campaigns per round: the drop-out summary's TOP_N
PAIRS_PER_ROUND = 8
PER_GROUP = 30
#: sift passes out of PER_GROUP: disabled / not disabled in a "worse" campaign
WORSE_PASSES, BETTER_PASSES = 8, 25
FIRST_OPENING = date(2023, 1, 2)


@dataclass(frozen=True)
class CampaignPlan:
    campaign: Payload
    route: Payload
    worse: bool


def rounds(payloads: list[Payload] = PAYLOADS) -> list[list[CampaignPlan]]:
    """Campaign plans per round; across rounds every payload is once a flagged (worse)
    campaign id or the route of one, and ids are unique within a round."""
    n = len(payloads)
    slots = 2 * PAIRS_PER_ROUND
    out = []
    for r in range(-(-n // slots)):
        base = r * slots
        plans = []
        for k in range(PAIRS_PER_ROUND):
            worse = payloads[(base + 2 * k) % n]
            route = payloads[(base + 2 * k + 1) % n]
            balancing = payloads[(base + slots + 2 * k) % n]
            plans += [CampaignPlan(worse, route, True), CampaignPlan(balancing, route, False)]
        ids = [p.campaign.text for p in plans]
        assert len(set(ids)) == len(ids), f"round {r}: a campaign id twice"
        out.append(plans)
    return out


def _people(plan: CampaignPlan, c: int, id_payloads: itertools.cycle) -> list[dict]:
    """60 applicants of one campaign with their sift result (see the module docstring)."""
    people = []
    for p in range(2 * PER_GROUP):
        disabled = p >= PER_GROUP
        q = p % PER_GROUP
        limit = (WORSE_PASSES if disabled else BETTER_PASSES) if plan.worse else (
            BETTER_PASSES if disabled else WORSE_PASSES)
        # the first applicant of every campaign has a payload in its applicant and event ids
        prefix = next(id_payloads).text if p == 0 else "A"
        people.append({
            "applicant_id": f"{prefix}-{c:02d}-{p:02d}",
            "sex": "Male" if q % 2 == 0 else "Female",
            "ethnicity": "White" if (q // 2) % 2 == 0 else "Black",
            "disability": "Yes" if disabled else "No",
            "sexual_orientation": "Bisexual" if q % 3 == 0 else "Heterosexual",
            "sift_passed": q < limit,
            "assessment_passed": q % 5 != 4,
        })
    return people


def write_round(folder: Path, plans: list[CampaignPlan], *, round_no: int = 0) -> Path:
    """A landing folder for one round: events, applicants, campaigns, population and
    interventions CSVs, each with an extra column whose header and values are payloads."""
    folder.mkdir(parents=True, exist_ok=True)
    text = itertools.cycle([p for p in PAYLOADS if "\n" not in p.text])
    ids = itertools.cycle(PAYLOADS[round_no:] + PAYLOADS[:round_no])
    extra_header = next(text).text
    events, applicants, campaigns = [], [], []
    for c, plan in enumerate(plans):
        opened = FIRST_OPENING + timedelta(days=45 * c)
        cid = plan.campaign.text
        campaigns.append([cid, plan.route.text, next(text).text, opened.isoformat(),
                          (opened + timedelta(days=30)).isoformat(), next(text).text])
        for person in _people(plan, c, ids):
            aid = person["applicant_id"]
            applicants.append([aid, person["sex"], person["ethnicity"], person["disability"],
                               person["sexual_orientation"], next(text).text])
            day = opened + timedelta(days=len(applicants) % 7)
            stages = [("application", True, day), ("sift", person["sift_passed"],
                                                   day + timedelta(days=10))]
            if person["sift_passed"]:
                stages.append(("assessment", person["assessment_passed"], day + timedelta(days=30)))
            for stage, passed, when in stages:
                events.append([f"{aid}/{stage}", aid, cid, stage, "passed" if passed else "failed",
                               f"{when.isoformat()}T10:00:00Z", next(text).text])
    write_csv(folder / "events_fuzz.csv",
              ["event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at",
               extra_header], events)
    write_csv(folder / "applicants_fuzz.csv",
              ["applicant_id", "sex", "ethnicity", "disability", "sexual_orientation",
               extra_header], applicants)
    write_csv(folder / "campaigns_fuzz.csv",
              ["campaign_id", "entry_route", "title", "opened_on", "closed_on", extra_header],
              campaigns)
    shares = [("sex", "Male", "0.5"), ("sex", "Female", "0.5"),
              ("ethnicity", "White", "0.8"), ("ethnicity", "Black", "0.2"),
              ("disability", "No", "0.8"), ("disability", "Yes", "0.2")]
    write_csv(folder / "population_fuzz.csv",
              ["characteristic", "group_name", "population_share", "area", "source",
               extra_header],
              [[ch, group, share, next(text).text, next(text).text, next(text).text]
               for ch, group, share in shares])
    worse_ids = [p.campaign.text for p in plans if p.worse]
    write_csv(folder / "interventions_fuzz.csv",
              ["intervention_id", "name", "started_on", "ended_on", "stage", "campaign_id",
               extra_header],
              [[next(text).text, next(text).text, (FIRST_OPENING + timedelta(days=200)).isoformat(),
                "", "sift", worse_ids[0], next(text).text],
               [next(text).text, next(text).text, FIRST_OPENING.isoformat(), "", "", "",
                next(text).text]])
    return folder


def write_configuration(folder: Path, payloads: list[Payload] = PAYLOADS) -> dict[str, str]:
    """The built-in funnel with a payload in every label a force writes (stage and
    characteristic labels, group labels, the publication's title, source and contact),
    as environment variables to add to a run's env (`FUNNEL_CONFIG`).

    Why: configuration text is input like any landing value; it reaches chart titles, the
    summary, the report and the workbook. Labels change no table (they are outside the
    configuration's hash), so the tables stay those of the built-in funnel."""
    import json
    from importlib import resources

    texts = itertools.cycle([p.text for p in payloads])

    def quoted() -> str:
        return json.dumps(next(texts), ensure_ascii=False)  # a valid TOML basic string

    lines = []
    default = resources.files("funnel_pipeline").joinpath("default_funnel.toml")
    for line in default.read_text(encoding="utf-8").splitlines():
        if line.startswith("label = "):
            line = f"label = {quoted()}"
        elif line.startswith("group_labels = "):
            groups = re.findall(r"(\w+) = ", line.removeprefix("group_labels = "))
            line = "group_labels = { " + ", ".join(f"{g} = {quoted()}" for g in groups) + " }"
        lines.append(line)
        if line.strip() == "[publication]":  # its wording, whatever table follows it
            lines += [f"title = {quoted()}", f"source = {quoted()}", f"contact = {quoted()}"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "funnel.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"FUNNEL_CONFIG": str(path)}
