"""The CGD quality statement of a cycle: machine-readable (JSON) and shown on the methods page.

A statistics office deciding whether to use citizen data asks what the UN Collaborative on
Citizen Data's Copenhagen Framework on Citizen Data and its quality-assurance guidance for
citizen-data producers ask: who initiated, designed, collected and analysed the data; how the
communities took part at each stage of the data value chain; how consent was asked; how well
the sample covers the population (against the census margins the weights are raked to);
which instruments, in which exact versions, were used; how many answers were received, kept
and set aside; which disclosure rules protect respondents; and the known limitations.

Everything here comes from the cycle store (`estimates.load`: coverage, weights, summary,
provenance hashes) and from cycle.yml; what cycle.yml does not declare (its optional
`citizen_data` block) is written as "not declared", never guessed. Counts below the
suppression threshold are withheld as they are everywhere else (a coverage cell of three
intersex respondents would identify them). Output is deterministic: sorted keys, rounded
floats, no timestamps, so two builds of the same store give byte-identical JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import estimates
from .i18n import dim_label, fmt_number, t
from .provenance import relpath
from .registry import PARTICIPATION_STAGES, Project, label

__all__ = [
    "FORMAT",
    "NOT_DECLARED",
    "QUALITY_DIR",
    "quality_path",
    "sentences",
    "statement",
    "statement_json",
    "write_statement",
]

FORMAT = "voicescount-cgd-quality/1"
NOT_DECLARED = "not declared"
QUALITY_DIR = "quality"
DECIMALS = 6
FRAMEWORKS = [
    {
        "name": "Copenhagen Framework on Citizen Data",
        "by": "UN Collaborative on Citizen Data (UNSD, UN Women)",
        "url": "https://unstats.un.org/UNSDWebsite/citizen-data/",
    },
    {
        "name": "Quality assurance toolkit for citizen data producers",
        "by": "UN Collaborative on Citizen Data",
        "url": "https://unstats.un.org/UNSDWebsite/citizen-data/",
    },
]
# Limitations every cycle of this design has (codes of report.limitation.* on the methods page).
LIMITATIONS = ["sample", "self_report", "official", "qualitative"]


def quality_path(iso: str, cycle: int | str) -> str:
    """The statement's path in a cycle's export folder (also in `estimates.download_files`)."""
    return f"{QUALITY_DIR}/quality_{iso}_{int(cycle)}.json"


def _num(x: Any) -> float | None:
    """A float rounded for a stable file; NaN (not applicable) becomes null."""
    x = float(x)
    return None if math.isnan(x) else round(x, DECIMALS)


def _count(n: int, threshold: int) -> int | None:
    """A count as published: withheld (null) below the suppression threshold, except 0."""
    return int(n) if n == 0 or n >= threshold else None


def _declared(values: list[str] | str | None) -> list[str] | str:
    return values if values else NOT_DECLARED


def statement(project: Project, iso: str, cycle: int | str) -> dict[str, Any]:
    """The cycle's quality statement as a JSON-ready dict (codes and numbers, English keys)."""
    cycle = int(cycle)
    cyc = project.cycle(iso, cycle)
    store = estimates.load(project, iso, cycle)
    rules = project.rules
    s, prov = store.summary, store.provenance
    k = rules.suppress_min_n
    cd = cyc.citizen_data
    # as the store's provenance keys its inputs (relative to the root, `..` where data_dir
    # lies elsewhere), so the hashes are found whatever the project layout
    cdir = relpath(project.cycle_dir(iso, cycle), project.root)
    inputs = prov.get("inputs", {})

    def hashed(rel: str | None) -> dict[str, str] | None:
        if not rel:
            return None
        path = f"{cdir}/{rel}"
        return {"path": path, "sha256": inputs.get(path, NOT_DECLARED)}

    instruments = []
    weights = {w.instrument: w for w in store.weights.itertuples(index=False)}
    for name in sorted(cyc.instruments):
        ins = cyc.instruments[name]
        info = s["instruments"].get(name, {})
        w = weights.get(name)
        instruments.append(
            {
                "instrument": name,
                "population": ins.population,
                "form": hashed(ins.form),
                "data": hashed(ins.data),
                "format": ins.format,
                "received": int(info.get("received", 0)),
                "kept": int(info.get("kept", 0)),
                "quarantined": int(info.get("quarantined", 0)),
                "weighting": (info.get("weighting") or {}).get("method", NOT_DECLARED),
                "design_effect": _num(w.kish_deff) if w is not None else None,
                "effective_n": _num(w.effective_n) if w is not None else None,
                "indicators": sorted(info.get("indicators", [])),
            }
        )
    coverage = [
        {
            "dimension": r.dimension,
            "code": r.code,
            "n": _count(int(r.n), k),
            "sample_share": _num(r.sample_share) if _count(int(r.n), k) is not None else None,
            "weighted_share": _num(r.weighted_share),
            "population_share": _num(r.population_share),
        }
        for r in store.coverage.itertuples(index=False)
    ]
    est = store.estimates
    by_rule = s.get("issues_by_rule", {})
    margins = cyc.weighting.margins if cyc.weighting else []
    population_csv = f"data/{iso}/population.csv"
    side = {a: hashed(getattr(cyc, a)) for a in ("qualitative", "activities", "recommendations")}
    return {
        "format": FORMAT,
        "frameworks": FRAMEWORKS,
        "country": iso,
        "cycle": cycle,
        "synthetic": bool(cyc.synthetic),
        "fieldwork": (
            {"start": cyc.fieldwork.start, "end": cyc.fieldwork.end}
            if cyc.fieldwork
            else NOT_DECLARED
        ),
        "producers": {
            "initiated_by": _declared(cd.initiated_by if cd else None),
            "designed_by": _declared(cd.designed_by if cd else None),
            "collected_by": _declared(cd.collected_by if cd else None),
            "analysed_by": _declared(cd.analysed_by if cd else None),
        },
        "participation": {
            stage: (cd.participation.get(stage) if cd else None) or NOT_DECLARED
            for stage in PARTICIPATION_STAGES
        },
        "consent": {
            "how": (cd.consent if cd and cd.consent else NOT_DECLARED),
            "checked": "each questionnaire's consent answer; rows without consent are set aside",
            "rows_without_consent": int(by_rule.get("error:consent", 0)),
        },
        "sample": {
            "received": int(s["received"]),
            "kept": int(s["kept"]),
            "quarantined": int(s["quarantined"]),
            "warnings": int(s.get("warnings", 0)),
            "issues_by_rule": {r: int(v) for r, v in sorted(by_rule.items())},
        },
        "instruments": instruments,
        "side_files": {a: v for a, v in sorted(side.items()) if v is not None},
        "coverage": {
            "margins": {"path": population_csv, "sha256": inputs.get(population_csv)},
            "raked_to": list(margins),
            "cells": coverage,
            "largest_gap_unweighted": _num(
                (store.coverage["sample_share"] - store.coverage["population_share"]).abs().max()
            )
            if len(store.coverage)
            else None,
        },
        "disclosure": {
            "suppress_min_n": rules.suppress_min_n,
            "suppress_min_n_children": rules.suppress_min_n_children,
            "caution_min_n": rules.caution_min_n,
            "caution_max_cv": rules.caution_max_cv,
            "min_quote_group": rules.min_quote_group,
            "cells": int(len(est)),
            "suppressed": int(est["suppressed"].sum()),
            "caution": int(est["caution"].sum()),
        },
        "significance": {"alpha": rules.alpha, "multiple_comparisons": rules.multiple_comparisons},
        "limitations": LIMITATIONS + (["synthetic"] if cyc.synthetic else []),
        "provenance": {
            "store_key": store.key,
            "voicescount": prov.get("voicescount"),
            "source": prov.get("source"),
        },
    }


def sentences(project: Project, st: dict[str, Any], lang: str) -> list[str]:
    """The statement in words for the methods page (what was not declared says so)."""
    nd = t("quality.not_declared", lang)

    def words(v: list[str] | str) -> str:
        return nd if v == NOT_DECLARED else ", ".join(v)

    p = st["producers"]
    part = {k: (nd if v == NOT_DECLARED else v) for k, v in st["participation"].items()}
    cov = st["coverage"]
    gap = cov["largest_gap_unweighted"]
    cyc = project.cycle(st["country"], st["cycle"])
    items = "; ".join(
        f"{label(cyc.instruments[i['instrument']].label, lang, i['instrument'])} "
        f"({(i['form'] or i['data'])['sha256'][:12]})"
        for i in st["instruments"]
    )
    out = [
        t("quality.intro", lang),
        t("quality.producers", lang, initiated=words(p["initiated_by"]),
          designed=words(p["designed_by"]), collected=words(p["collected_by"]),
          analysed=words(p["analysed_by"])),
        t("quality.participation", lang, **part),
        t("quality.consent", lang,
          how=nd if st["consent"]["how"] == NOT_DECLARED else st["consent"]["how"],
          n=fmt_number(st["consent"]["rows_without_consent"], lang)),
    ]  # fmt: skip
    if gap is not None and cov["raked_to"]:
        margins = ", ".join(dim_label(project.dimensions, m, lang) for m in cov["raked_to"])
        out.append(t("quality.coverage", lang, gap=fmt_number(100 * gap, lang, 1),
                     margins=margins))  # fmt: skip
    out.append(t("quality.instruments", lang, items=items))
    return out


def statement_json(project: Project, iso: str, cycle: int | str) -> str:
    """The statement as the file holds it: UTF-8 JSON, sorted keys, LF, a final newline."""
    data = statement(project, iso, cycle)
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_statement(project: Project, iso: str, cycle: int | str, out_dir: str | Path) -> Path:
    """Write `quality/quality_<ISO>_<cycle>.json` under a cycle's export folder."""
    path = Path(out_dir) / quality_path(iso, cycle)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(statement_json(project, iso, cycle).encode("utf-8"))
    return path
