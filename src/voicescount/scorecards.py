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


def _read(path: str | Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{what} file not found.", path=path, hint="Correct the path in cycle.yml."
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text.", path=path, hint="Save the CSV as UTF-8.") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"lacks column(s) {', '.join(missing)}.",
            path=path,
            field=missing[0],
            hint=f"A {what} file needs the columns: {', '.join(columns)}.",
        )
    for c in df.columns:
        df[c] = df[c].str.strip()
    return df


def _first(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])


def _cycle(df: pd.DataFrame, path: Path, col: str) -> pd.Series:
    v = pd.to_numeric(df[col], errors="coerce")
    bad = v.isna() | (v % 1 != 0) | (v < 2000) | (v > 2100)
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"'{df[col].iloc[i]}' is not a survey cycle (a year such as 2022).",
            path=path, row=i + 2, field=col, hint="Write the cycle's year.",
        )  # fmt: skip
    return v.astype(int)


def read_scorecards(path: str | Path) -> pd.DataFrame:
    """Score-card rows, checked: scores on the 1-5 scale (blank = not scored), one row per
    cycle, commune, service and criterion. Row numbers in errors are spreadsheet rows."""
    path = Path(path)
    df = _read(path, SCORE_COLUMNS, "score card")
    df["cycle"] = _cycle(df, path, "cycle")
    for col in ("community_score", "provider_score"):
        raw = df[col]
        v = pd.to_numeric(raw.str.replace(",", ".", regex=False), errors="coerce")
        bad = (raw != "") & (v.isna() | (v < SCALE[0]) | (v > SCALE[1]))
        if bad.any():
            i = _first(bad)
            raise InputError(
                f"'{raw.iloc[i]}' is not a score from 1 to 5.",
                path=path, row=i + 2, field=col,
                hint="Score cards use a 1 (very poor) to 5 (very good) scale; leave blank if not scored.",
            )  # fmt: skip
        df[col] = v
    for col in ("commune", "service", "criterion"):
        empty = df[col].eq("")
        if empty.any():
            raise InputError(
                f"{col} is empty.", path=path, row=_first(empty) + 2, field=col,
                hint=f"Every score needs its {col}.",
            )  # fmt: skip
    key = ["cycle", "commune", "service", "criterion"]
    dup = df.duplicated(key)
    if dup.any():
        i = _first(dup)
        raise InputError(
            f"commune '{df['commune'].iloc[i]}' scores '{df['criterion'].iloc[i]}' of "
            f"'{df['service'].iloc[i]}' twice in cycle {df['cycle'].iloc[i]}.",
            path=path, row=i + 2, field="criterion",
            hint="Keep one consensus score per commune, service and criterion.",
        )  # fmt: skip
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
    one status per action and cycle, and the same action text wherever an action repeats."""
    path = Path(path)
    df = _read(path, ACTION_COLUMNS, "score-card actions")
    df["cycle_raised"] = _cycle(df, path, "cycle_raised")
    df["status_cycle"] = _cycle(df, path, "status_cycle")
    bad = ~df["status"].isin(STATUSES)
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"'{df['status'].iloc[i]}' is not an action status.",
            path=path, row=i + 2, field="status", hint=f"Use one of: {', '.join(STATUSES)}.",
        )  # fmt: skip
    early = df["status_cycle"] < df["cycle_raised"]
    if early.any():
        i = _first(early)
        raise InputError(
            f"status_cycle {df['status_cycle'].iloc[i]} is before the action was raised "
            f"({df['cycle_raised'].iloc[i]}).",
            path=path, row=i + 2, field="status_cycle",
            hint="A follow-up is recorded in the cycle it happened, on or after cycle_raised.",
        )  # fmt: skip
    dup = df.duplicated(["action_id", "status_cycle"])
    if dup.any():
        i = _first(dup)
        raise InputError(
            f"action '{df['action_id'].iloc[i]}' has two statuses for cycle "
            f"{df['status_cycle'].iloc[i]}.",
            path=path, row=i + 2, field="status_cycle", hint="Keep one status per follow-up cycle.",
        )  # fmt: skip
    raised = df.groupby("action_id")["cycle_raised"].transform("nunique")
    if (raised > 1).any():
        i = _first(raised > 1)
        raise InputError(
            f"action '{df['action_id'].iloc[i]}' has different cycle_raised values.",
            path=path, row=i + 2, field="cycle_raised",
            hint="An action is raised once; repeat the same cycle_raised on its follow-up rows.",
        )  # fmt: skip
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
    dup = allrows.duplicated(["action_id", "status_cycle"])
    if dup.any():
        i = _first(dup)
        r = allrows.iloc[i]
        raise InputError(
            f"action '{r['action_id']}' has a status for cycle {r['status_cycle']} in another "
            "file too.",
            path=r["_file"], field="status_cycle",
            hint="Record each follow-up once, in the file of the cycle it happened.",
        )  # fmt: skip
    raised = allrows.groupby("action_id")["cycle_raised"].transform("nunique")
    if (raised > 1).any():
        r = allrows.iloc[_first(raised > 1)]
        raise InputError(
            f"action '{r['action_id']}' has different cycle_raised values across cycles.",
            path=r["_file"], field="cycle_raised",
            hint="Keep an action's id and cycle_raised the same in every cycle's file.",
        )  # fmt: skip
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
