"""Community score cards (the CARE method): how communities and providers rate a service.

In each commune, community members and service providers score the same criteria (1 = very
poor, 5 = very good) and agree an action plan. The report shows, per service and criterion,
the mean community and provider scores, the gap (community − provider: negative when
providers rate themselves higher than the people they serve), by region and cycle, and how the
agreed actions were followed up across cycles.

Each commune's score is one consensus score, so means are unweighted means over communes and
the number of communes is shown beside them; no sampling error is claimed.

Inputs (CSV, UTF-8; see docs/DEVELOPING.md):
- scorecards.csv: cycle, region, commune, service, criterion, community_score, provider_score
- scorecard_actions.csv: action_id, cycle_raised, service, criterion, action_en,
  action_<lang>, responsible, due, status, status_cycle. An action may have one row per
  follow-up (status observed at status_cycle); its status in a cycle is the latest one
  observed up to that cycle, and 'not started' before any follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import sidefiles
from .errors import InputError
from .i18n import t

SCORE_COLUMNS = (
    "cycle",
    "region",
    "commune",
    "service",
    "criterion",
    "community_score",
    "provider_score",
)
ACTION_COLUMNS = (
    "action_id",
    "cycle_raised",
    "service",
    "criterion",
    "action_en",
    "responsible",
    "due",
    "status",
    "status_cycle",
)
STATUSES = ("not_started", "in_progress", "done", "dropped")
SCALE = (1.0, 5.0)


def read_scorecards(path: str | Path) -> pd.DataFrame:
    """Score-card rows, checked: scores on the 1-5 scale (blank = not scored), one row per
    cycle, commune, service and criterion. Row numbers in errors are spreadsheet rows."""
    df = sidefiles.read_csv(path, SCORE_COLUMNS, "score card")
    df["cycle"] = sidefiles.to_cycle(df, path, "cycle")
    for col in ("community_score", "provider_score"):
        v = pd.to_numeric(df[col].str.replace(",", ".", regex=False), errors="coerce")
        sidefiles.fail_first(
            df,
            (df[col] != "") & (v.isna() | (v < SCALE[0]) | (v > SCALE[1])),
            path,
            col,
            lambda r, col=col: f"'{r[col]}' is not a score from 1 to 5.",
            "Score cards use a 1 (very poor) to 5 (very good) scale; leave blank if not scored.",
        )
        df[col] = v
    for col in ("commune", "service", "criterion"):
        sidefiles.check_filled(df, path, col, f"Every score needs its {col}.")
    sidefiles.fail_first(
        df,
        df.duplicated(["cycle", "commune", "service", "criterion"]),
        path,
        "criterion",
        lambda r: (
            f"commune '{r['commune']}' scores '{r['criterion']}' of '{r['service']}' "
            f"twice in cycle {r['cycle']}."
        ),
        "Keep one consensus score per commune, service and criterion.",
    )
    return df


def label(kind: str, code: str, lang: str = "en") -> str:
    """Label of a service or criterion code from the catalogue ('service.<code>'), else the
    code made readable ('waiting_time' -> 'Waiting time') so a new code never breaks a report."""
    try:
        return t(f"{kind}.{code}", lang)
    except KeyError:
        text = str(code).replace("_", " ").strip()
        return text[:1].upper() + text[1:]


def summarise(
    scores: pd.DataFrame, by: Sequence[str] = ("cycle", "service", "criterion")
) -> pd.DataFrame:
    """Mean community and provider scores and their gap per `by` group, with commune counts.

    Add "region" to `by` for the regional view. The gap is community − provider, computed
    over communes where both sides scored (so a one-sided score cannot create a gap).
    """
    by = list(by)
    both = scores["community_score"].notna() & scores["provider_score"].notna()
    d = scores.assign(
        _gap=np.where(both, scores["community_score"] - scores["provider_score"], np.nan)
    )
    out = (
        d.groupby(by, sort=True)
        .agg(
            communes=("commune", "nunique"),
            community=("community_score", "mean"),
            provider=("provider_score", "mean"),
            gap=("_gap", "mean"),
            paired=("_gap", "count"),
        )
        .reset_index()
    )
    return out


def scorecard_table(summary: pd.DataFrame, lang: str = "en", decimals: int = 2) -> pd.DataFrame:
    """The summary with headers in `lang` and scores rounded (for the report and its CSV)."""
    names = {
        "cycle": t("table.cycle", lang),
        "region": t("table.region", lang),
        "service": t("table.service", lang),
        "criterion": t("table.criterion", lang),
        "communes": t("table.communes", lang),
        "community": t("table.community", lang),
        "provider": t("table.provider", lang),
        "gap": t("table.score_gap", lang),
    }
    out = summary.drop(columns=[c for c in ("paired",) if c in summary]).copy()
    for kind in ("service", "criterion"):
        if kind in out:
            out[kind] = [label(kind, c, lang) for c in out[kind]]
    for col in ("community", "provider", "gap"):
        out[col] = out[col].round(decimals)
    return out.rename(columns=names)


# --------------------------------------------------------------------------- action plans


def read_actions(path: str | Path) -> pd.DataFrame:
    """Action-plan rows, checked: known status, follow-up not before the action was raised,
    one status per action and cycle, one cycle_raised per action."""
    df = sidefiles.read_csv(path, ACTION_COLUMNS, "score-card actions")
    df["cycle_raised"] = sidefiles.to_cycle(df, path, "cycle_raised")
    df["status_cycle"] = sidefiles.to_cycle(df, path, "status_cycle")
    sidefiles.check_allowed(df, path, "status", STATUSES)
    sidefiles.fail_first(
        df,
        df["status_cycle"] < df["cycle_raised"],
        path,
        "status_cycle",
        lambda r: (
            f"status_cycle {r['status_cycle']} is before the action was raised "
            f"({r['cycle_raised']})."
        ),
        "A follow-up is recorded in the cycle it happened, on or after cycle_raised.",
    )
    sidefiles.fail_first(
        df,
        df.duplicated(["action_id", "status_cycle"]),
        path,
        "status_cycle",
        lambda r: f"action '{r['action_id']}' has two statuses for cycle {r['status_cycle']}.",
        "Keep one status per follow-up cycle.",
    )
    sidefiles.fail_first(
        df,
        df.groupby("action_id")["cycle_raised"].transform("nunique") > 1,
        path,
        "cycle_raised",
        lambda r: f"action '{r['action_id']}' has different cycle_raised values.",
        "An action is raised once; repeat the same cycle_raised on its follow-up rows.",
    )
    return df


def read_actions_across(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Action plans of several cycles (each cycle's file holds that cycle's follow-up) as one
    history; an action followed up twice for the same cycle in two files is an error."""
    frames = []
    for p in paths:
        df = read_actions(p)
        df["_file"] = str(p)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*ACTION_COLUMNS, "_file"])
    allrows = pd.concat(frames, ignore_index=True)
    for mask, field, problem, hint in (
        (
            allrows.duplicated(["action_id", "status_cycle"]),
            "status_cycle",
            "has a status for cycle {status_cycle} in another file too",
            "Record each follow-up once, in the file of the cycle it happened.",
        ),
        (
            allrows.groupby("action_id")["cycle_raised"].transform("nunique") > 1,
            "cycle_raised",
            "has different cycle_raised values across cycles",
            "Keep an action's id and cycle_raised the same in every cycle's file.",
        ),
    ):
        if mask.any():
            r = allrows[mask].iloc[0]
            raise InputError(
                f"action '{r['action_id']}' " + problem.format(**r) + ".",
                path=r["_file"],
                field=field,
                hint=hint,
            )
    return (
        allrows.drop(columns="_file")
        .sort_values(["action_id", "status_cycle"], kind="mergesort")
        .reset_index(drop=True)
    )


def status_in(actions: pd.DataFrame, cycle: int) -> pd.DataFrame:
    """Each action raised by `cycle` with its latest status observed up to that cycle."""
    raised = actions[actions["cycle_raised"] <= cycle]
    seen = raised[raised["status_cycle"] <= cycle].sort_values(
        ["action_id", "status_cycle"], kind="mergesort"
    )
    latest = seen.groupby("action_id", sort=True).tail(1).set_index("action_id")
    base = raised.sort_values(["action_id", "status_cycle"], kind="mergesort").drop_duplicates(
        "action_id"
    )
    base = base.set_index("action_id").drop(columns=["status", "status_cycle"])
    base["status"] = latest["status"].reindex(base.index).fillna("not_started")
    base["status_cycle"] = latest["status_cycle"].reindex(base.index)
    return base.reset_index()


def action_followup(actions: pd.DataFrame) -> pd.DataFrame:
    """Per cycle: actions raised so far, how many are in each status, and the completion rate.

    Completion rate = done / all actions raised so far (dropped actions stay in the
    denominator: dropping an agreed action is not completing it; the count is shown beside).
    """
    cycles = sorted(set(actions["cycle_raised"]) | set(actions["status_cycle"]))
    rows = []
    for c in cycles:
        st = status_in(actions, c)["status"].value_counts()
        total = int(st.sum())
        row = {"cycle": c, "actions": total}
        row.update({s: int(st.get(s, 0)) for s in STATUSES})
        row["completion_rate"] = row["done"] / total if total else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=["cycle", "actions", *STATUSES, "completion_rate"])


def followup_table(followup: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """`action_followup` with headers in `lang` and the rate as a percentage (1 decimal)."""
    out = followup.copy()
    out["completion_rate"] = (out["completion_rate"] * 100).round(1)
    names = {
        "cycle": t("table.cycle", lang),
        "actions": t("table.actions", lang),
        "completion_rate": t("table.completion_pct", lang),
    }
    names.update({s: t(f"action_status.{s}", lang) for s in STATUSES})
    return out.rename(columns=names)


def action_table(actions: pd.DataFrame, cycle: int, lang: str = "en") -> pd.DataFrame:
    """The action plan as of `cycle`: text in `lang` (English if untranslated), status label."""
    st = status_in(actions, cycle)
    own = f"action_{lang}"
    text = [
        (r[own] if own in st.columns and str(r[own]).strip() else r["action_en"])
        for _, r in st.iterrows()
    ]
    out = pd.DataFrame(
        {
            t("table.service", lang): [label("service", c, lang) for c in st["service"]],
            t("table.criterion", lang): [label("criterion", c, lang) for c in st["criterion"]],
            t("table.action", lang): text,
            t("table.responsible", lang): st["responsible"],
            t("table.due", lang): st["due"],
            t("table.status", lang): [t(f"action_status.{s}", lang) for s in st["status"]],
        }
    )
    return out.sort_values(list(out.columns[:3]), kind="mergesort").reset_index(drop=True)
