"""Recommendations and their uptake: did official reports take up what communities asked for?

Each recommendation names its target (ministry or agency, and the chapter of the Voluntary
National Review it addresses) and its status in the official reports: integrated, partly
integrated, or not integrated. The uptake rate per cycle is the share integrated in full;
partly integrated recommendations are counted and stated separately, never folded into the
rate (folding them in would let a vague mention count as uptake).

Input: recommendations.csv: rec_id, cycle, sdg, text_en, text_<lang>..., target,
vnr_chapter, status (integrated|partly|not_integrated), evidence.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from . import sidefiles
from .i18n import fmt_percent, t
from .registry import Project

COLUMNS = ("rec_id", "cycle", "sdg", "text_en", "target", "vnr_chapter", "status", "evidence")
STATUSES = ("integrated", "partly", "not_integrated")
_SDG_RE = re.compile(r"^(\d{1,2})(\.[0-9a-z]{1,2}(\.\d{1,2})?)?$")


def read_recommendations(path: str | Path) -> pd.DataFrame:
    """Recommendations, checked: unique ids, a cycle year, an SDG goal/target/indicator code,
    a known status and a text in English. Errors give the spreadsheet row (header = 1)."""
    df = sidefiles.read_csv(path, COLUMNS, "recommendations")
    sidefiles.check_unique(df, path, "rec_id")
    df["cycle"] = sidefiles.to_cycle(df, path, "cycle")

    def _bad_sdg(code: str) -> bool:
        m = _SDG_RE.match(code)
        return not m or not 1 <= int(m.group(1)) <= 17

    sidefiles.fail_first(
        df,
        df["sdg"].map(_bad_sdg),
        path,
        "sdg",
        lambda r: f"'{r['sdg']}' is not an SDG goal, target or indicator code.",
        "Write e.g. 5, 5.2 or 5.2.1.",
    )
    sidefiles.check_allowed(df, path, "status", STATUSES)
    sidefiles.check_filled(
        df, path, "text_en", "Every recommendation needs text_en (other languages fall back to it)."
    )
    return df.sort_values(["cycle", "rec_id"], kind="mergesort").reset_index(drop=True)


def recommendations_until(project: Project, iso: str, cycle: int) -> pd.DataFrame:
    """Recommendations made up to `cycle`, from each cycle's file up to this one; a
    recommendation listed again in a later file takes its status from the latest file (its
    uptake is followed up there). The recommendations page and the community brief read this."""
    frames = []
    for _code, cy in project.cycles(iso):
        if cy > cycle:
            continue
        rel = project.cycle(iso, cy).recommendations
        if rel:
            frames.append(read_recommendations(project.cycle_dir(iso, cy) / rel).assign(_file=cy))
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS])
    recs = pd.concat(frames, ignore_index=True, sort=False)
    recs = recs[recs["cycle"].astype(int) <= cycle]
    recs = recs.sort_values(["rec_id", "_file"], kind="mergesort").drop_duplicates(
        "rec_id", keep="last"
    )
    return (
        recs.drop(columns="_file")
        .sort_values(["cycle", "rec_id"], kind="mergesort")
        .reset_index(drop=True)
    )


def uptake(recs: pd.DataFrame, by: str = "cycle") -> pd.DataFrame:
    """Per `by` value: recommendations, counts by status, uptake rate (integrated / all) and
    the partly-integrated share, stated separately."""
    rows = []
    for key, sub in recs.groupby(by, sort=True):
        n = len(sub)
        counts = sub["status"].value_counts()
        row = {by: key, "recommendations": n}
        row.update({s: int(counts.get(s, 0)) for s in STATUSES})
        row["uptake_rate"] = row["integrated"] / n
        row["partly_rate"] = row["partly"] / n
        rows.append(row)
    return pd.DataFrame(
        rows, columns=[by, "recommendations", *STATUSES, "uptake_rate", "partly_rate"]
    )


def uptake_table(up: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """`uptake(...)` by cycle with headers in `lang` and rates as percentages (1 decimal)."""
    out = up.copy()
    out["uptake_rate"] = (out["uptake_rate"] * 100).round(1)
    out["partly_rate"] = (out["partly_rate"] * 100).round(1)
    names = {
        "cycle": t("table.cycle", lang),
        "recommendations": t("table.rec_count", lang),
        "uptake_rate": t("table.integrated_pct", lang),
        "partly_rate": t("table.partly_pct", lang),
    }
    names.update({s: t(f"rec_status.{s}", lang) for s in STATUSES})
    return out.rename(columns=names)


def uptake_sentences(up: pd.DataFrame, lang: str = "en") -> list[str]:
    """One plain-language sentence per cycle, numbers in the report's language."""
    return [
        t(
            "uptake.summary", lang, cycle=int(r["cycle"]), integrated=int(r["integrated"]),
            n=int(r["recommendations"]), rate=fmt_percent(r["uptake_rate"], lang, 0),
            partly=int(r["partly"]), partly_rate=fmt_percent(r["partly_rate"], lang, 0),
        )
        for _, r in up.iterrows()
    ]  # fmt: skip


def recommendations_table(recs: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Each recommendation in `lang` (English where untranslated), its target and status."""
    own = f"text_{lang}"
    text = [
        r[own] if own in recs.columns and str(r[own]).strip() else r["text_en"]
        for _, r in recs.iterrows()
    ]
    return pd.DataFrame(
        {
            t("table.rec_id", lang): recs["rec_id"].tolist(),
            t("table.cycle", lang): recs["cycle"].tolist(),
            t("table.sdg", lang): recs["sdg"].tolist(),
            t("table.recommendation", lang): text,
            t("table.target", lang): recs["target"].tolist(),
            t("table.vnr_chapter", lang): recs["vnr_chapter"].tolist(),
            t("table.status", lang): [t(f"rec_status.{s}", lang) for s in recs["status"]],
            t("table.evidence", lang): recs["evidence"].tolist(),
        }
    )
