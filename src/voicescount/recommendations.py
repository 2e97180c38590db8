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

from .errors import InputError
from .i18n import fmt_percent, t

COLUMNS = ("rec_id", "cycle", "sdg", "text_en", "target", "vnr_chapter", "status", "evidence")
STATUSES = ("integrated", "partly", "not_integrated")
_SDG_RE = re.compile(r"^(\d{1,2})(\.[0-9a-z]{1,2}(\.\d{1,2})?)?$")


def _first(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])


def read_recommendations(path: str | Path) -> pd.DataFrame:
    """Recommendations, checked: unique ids, a cycle year, an SDG goal/target/indicator code,
    a known status and a text in English. Errors give the spreadsheet row (header = 1)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "recommendations file not found.", path=path, hint="Correct the path in cycle.yml."
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text.", path=path, hint="Save the CSV as UTF-8.") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"lacks column(s) {', '.join(missing)}.",
            path=path,
            field=missing[0],
            hint=f"A recommendations file needs the columns: {', '.join(COLUMNS)}.",
        )
    for c in df.columns:
        df[c] = df[c].str.strip()
    dup = df["rec_id"].duplicated()
    if dup.any():
        i = _first(dup)
        raise InputError(
            f"rec_id '{df['rec_id'].iloc[i]}' appears twice.", path=path, row=i + 2,
            field="rec_id", hint="Give every recommendation its own id.",
        )  # fmt: skip
    cyc = pd.to_numeric(df["cycle"], errors="coerce")
    bad = cyc.isna() | (cyc % 1 != 0) | (cyc < 2000) | (cyc > 2100)
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"'{df['cycle'].iloc[i]}' is not a survey cycle (a year such as 2022).",
            path=path, row=i + 2, field="cycle", hint="Write the cycle's year.",
        )  # fmt: skip
    df["cycle"] = cyc.astype(int)
    for i, code in enumerate(df["sdg"]):
        m = _SDG_RE.match(code)
        if not m or not 1 <= int(m.group(1)) <= 17:
            raise InputError(
                f"'{code}' is not an SDG goal, target or indicator code.",
                path=path, row=i + 2, field="sdg", hint="Write e.g. 5, 5.2 or 5.2.1.",
            )  # fmt: skip
    bad = ~df["status"].isin(STATUSES)
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"'{df['status'].iloc[i]}' is not a recommendation status.",
            path=path, row=i + 2, field="status", hint=f"Use one of: {', '.join(STATUSES)}.",
        )  # fmt: skip
    empty = df["text_en"].eq("")
    if empty.any():
        raise InputError(
            "the recommendation has no English text.", path=path, row=_first(empty) + 2,
            field="text_en", hint="Every recommendation needs text_en (other languages fall back to it).",
        )  # fmt: skip
    return df.sort_values(["cycle", "rec_id"], kind="mergesort").reset_index(drop=True)


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
