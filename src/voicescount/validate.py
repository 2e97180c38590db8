"""Validation of mapped exports against the data contract: issues, quarantine, cleaning log.

The report is only as trustworthy as this step, so every respondent is accounted for
(received = kept + quarantined, asserted) and every problem names the file, the row
(`_source_row`, the 1-based row of the raw export, and the respondent id), the column, the
rule, a severity and a hint the analyst can act on.

What stops a run (decided here, documented in the handbook):

- **file level** (raise `InputError`): a required column is not mapped. Nothing about the
  file can be trusted, so `validate_instrument` raises; `validate_cycle` records it as a
  stopping issue (row empty) and carries on with the other instruments so the analyst sees
  everything at once.
- **error** on a row: the row is quarantined with its reasons and the run goes on. The
  report shows received / kept / quarantined.
- **warning** on a row: the row is kept; the warning goes to the data-quality section.
  Answers to questions that were not asked of this population are set to missing and
  logged in the cleaning log.
- A cycle also stops when an instrument has no usable row left (everything quarantined).

Column checks (types, codes, ranges, required values) are a pandera schema built from
`data/contract.yml`; cross-row and cross-column checks (duplicates, consent, durations,
review status, skip logic) are declared in `ValidationRules`.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import intake, sidefiles
from .contract import Contract, ContractColumn, load_contract
from .errors import InputError, Problems, ValidationFailed, VoicesError, fix_yaml, merge_fixes
from .fileio import atomic_write_text
from .registry import Country, Cycle, Project

Severity = Literal["error", "warning"]

ISSUE_COLUMNS = ["file", "row", "respondent_id", "column", "rule", "severity", "message", "hint"]
LOG_COLUMNS = [
    "file",
    "row",
    "respondent_id",
    "column",
    "action",
    "old_value",
    "new_value",
    "rule",
]
ROW = "_source_row"

# Columns that describe the interview rather than the answers: two submissions whose other
# columns are identical are the same interview sent twice, whatever their ids and clocks.
NOT_ANSWERS = {"respondent_id", "submitted_at", "started_at", "ended_at", "enumerator"}
NOT_ANSWERS |= {"validation_status"}

HINTS = {
    "type": "Correct the value in the export, or map the export's codes to the contract in "
    "cycle.yml (instruments.{inst}.codes.{col}).",
    "allowed_codes": "Map this export code to a contract code in cycle.yml under "
    "instruments.{inst}.codes.{col} (e.g. {'{val}': <code>}; null for refused/don't know), "
    "or correct the export.",
    "range": "Check the value in the export; if it is a missing-value code (e.g. 98, 99), map "
    "it to null in cycle.yml under instruments.{inst}.codes.{col}.",
    "required_value": "This column may not be empty: fill it in the export or drop the "
    "submission in KoboToolbox.",
    "consent": "Without recorded consent the answers cannot be used. Check the paper consent "
    "form; if consent was given, correct the export.",
    "duplicate_id": "Two submissions share this id. Delete the wrong one in KoboToolbox or "
    "give it its own id.",
    "duplicate_submission": "Identical answers under another id: the same interview was sent "
    "twice. Delete the copy in KoboToolbox.",
    "duration_short": "Shorter than instruments.{inst}.min_duration_minutes: check with the "
    "enumerator that the interview took place in full.",
    "duration_long": "Longer than instruments.{inst}.max_duration_minutes: usually a form left "
    "open; check the answers with the enumerator.",
    "duration_negative": "The interview ends before it starts: check the device clock.",
    "not_approved": "Rejected by the reviewer in KoboToolbox; approve it there if it is "
    "acceptable after all.",
    "on_hold": "On hold in KoboToolbox review: decide before publication.",
}


@dataclass(frozen=True)
class SkipRule:
    """One declared skip-logic rule for the instruments of some populations.

    `within` names an age range of the country ('child_band' or 'adult_bands') that `column`
    must fall in; otherwise `columns`/`roles` name questions that are not asked of the
    population and must be empty (a value there is set to missing and logged).
    """

    id: str
    populations: tuple[str, ...]
    severity: Severity
    message: str
    hint: str
    column: str | None = None
    within: Literal["child_band", "adult_bands"] | None = None
    columns: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


DEFAULT_SKIP_RULES: tuple[SkipRule, ...] = (
    SkipRule(
        id="child_age_band",
        populations=("children",),
        column="age",
        within="child_band",
        severity="error",
        message="age {val} is outside the child band {band} of the children's instrument",
        hint="Check the age; respondents outside the band belong to another instrument.",
    ),
    SkipRule(
        id="adult_age_band",
        populations=("adults",),
        column="age",
        within="adult_bands",
        severity="error",
        message="age {val} is below the country's youngest adult band ({band})",
        hint="Check the age; younger respondents belong to the children's instrument.",
    ),
    SkipRule(
        id="cso_no_wg",
        populations=("cso",),
        roles=("wg", "cfm"),
        severity="warning",
        message="the CSO instrument has a functioning answer ({val}); it is not asked of "
        "organisations and was set to missing",
        hint="Remove the WG/CFM mapping from the CSO instrument in cycle.yml.",
    ),
    SkipRule(
        id="children_no_sogi",
        populations=("children",),
        columns=("gender_identity", "sexual_orientation"),
        severity="warning",
        message="gender identity / sexual orientation ({val}) is never asked of children; "
        "set to missing",
        hint="Remove the question from the children's form and its mapping from cycle.yml.",
    ),
    SkipRule(
        id="adults_no_cfm",
        populations=("adults",),
        roles=("cfm",),
        severity="warning",
        message="a Child Functioning answer ({val}) in the adults' instrument; set to missing",
        hint="Adults answer the WG Short Set; remove the cf_* mapping for adults.",
    ),
    SkipRule(
        id="children_no_wg",
        populations=("children",),
        roles=("wg",),
        severity="warning",
        message="a WG Short Set answer ({val}) in the children's instrument; set to missing",
        hint="Children answer the Child Functioning Module; map their items to cf_* columns.",
    ),
)


@dataclass(frozen=True)
class ValidationRules:
    """The declared rule set: the country (regions, age bands) and the skip rules."""

    country: Country | None = None
    skip: tuple[SkipRule, ...] = DEFAULT_SKIP_RULES


@dataclass
class ValidationResult:
    """One instrument validated: kept rows, quarantined rows (+ `reason`), issues, log."""

    instrument: str
    population: str
    file: str
    received: int
    kept: pd.DataFrame
    quarantine: pd.DataFrame
    issues: pd.DataFrame
    log: pd.DataFrame

    def __post_init__(self) -> None:
        if self.received != len(self.kept) + len(self.quarantine):
            raise AssertionError(
                f"{self.file}: received {self.received} rows but kept {len(self.kept)} + "
                f"quarantined {len(self.quarantine)}: a row was lost (a bug)."
            )

    def counts(self) -> dict[str, int]:
        sev = self.issues["severity"].value_counts()
        return {
            "received": self.received,
            "kept": len(self.kept),
            "quarantined": len(self.quarantine),
            "errors": int(sev.get("error", 0)),
            "warnings": int(sev.get("warning", 0)),
        }


class _Collector:
    """Accumulates issues, errors per row and cleaning actions for one instrument."""

    def __init__(self, file: str, df: pd.DataFrame) -> None:
        self.file = file
        self.rows = df[ROW].tolist()
        ids = df["respondent_id"] if "respondent_id" in df else pd.Series([None] * len(df))
        self.ids = [None if _missing(v) else str(v) for v in ids.tolist()]
        self.issues: list[dict] = []
        self.log: list[dict] = []
        self.errors: dict[int, list[str]] = defaultdict(list)

    def add(
        self, pos: int | None, column: str, rule: str, severity: Severity, message: str, hint: str
    ) -> None:
        self.issues.append(
            {
                "file": self.file,
                "row": self.rows[pos] if pos is not None else None,
                "respondent_id": self.ids[pos] if pos is not None else None,
                "column": column,
                "rule": rule,
                "severity": severity,
                "message": message,
                "hint": hint,
            }
        )
        if pos is not None and severity == "error":
            self.errors[pos].append(f"{rule} ({column})" if column else rule)

    def clean(self, pos: int, column: str, old: object, new: object, rule: str) -> None:
        self.log.append(
            {
                "file": self.file,
                "row": self.rows[pos],
                "respondent_id": self.ids[pos],
                "column": column,
                "action": "set_missing" if _missing(new) else "recode",
                "old_value": str(old),
                "new_value": "" if _missing(new) else str(new),
                "rule": rule,
            }
        )


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT


def _fmt(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# --------------------------------------------------------------------------- types

_TRUE = {"true", "1", "yes", "y", "1.0"}
_FALSE = {"false", "0", "no", "n", "0.0"}


def _coerce(s: pd.Series, col: ContractColumn) -> tuple[pd.Series, pd.Series]:
    """Cast to the contract type; returns (values, mask of present values that failed)."""
    present = s.notna() & (s.astype("object").map(lambda v: str(v).strip()) != "")
    if col.type == "integer":
        num = pd.to_numeric(s.where(present), errors="coerce")
        whole = num.notna() & (num == np.floor(num.astype("float64")))
        out = num.where(whole).astype("Int64")
    elif col.type == "number":
        out = pd.to_numeric(s.where(present), errors="coerce").astype("float64")
    elif col.type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(s):
            out = s if getattr(s.dt, "tz", None) is not None else s.dt.tz_localize("UTC")
            out = out.dt.tz_convert("UTC")
        else:
            out = pd.to_datetime(s.where(present), errors="coerce", utc=True, format="mixed")
    elif col.type == "boolean":
        text = s.where(present).astype("object").map(lambda v: str(v).strip().lower())
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[text.isin(_TRUE)] = True
        out[text.isin(_FALSE)] = False
    else:
        if col.codes and all(isinstance(c, int) for c in col.codes):
            out = pd.to_numeric(s.where(present), errors="coerce").astype("Int64")
        else:
            out = (
                s.where(present)
                .astype("object")
                .map(lambda v: _fmt(v).strip() if not _missing(v) else v)
            )
            out = out.astype("str")
    failed = present & out.isna()
    return out, failed


def _schema(contract: Contract, population: str, cols: list[str], rules: ValidationRules):
    """pandera schema for the contract columns present: codes, ranges, required values."""
    columns = {}
    for name in cols:
        c = contract.column(name)
        checks = []
        codes = list(c.codes) if c.codes else None
        if name == "region" and rules.country is not None:
            codes = rules.country.region_codes()
        if codes:
            checks.append(pa.Check.isin(codes, name="allowed_codes"))
        if c.range is not None:
            checks.append(pa.Check.in_range(c.range[0], c.range[1], name="range"))
        required = c.required and population in c.populations and name != "consent"
        columns[name] = pa.Column(checks=checks, nullable=not required, required=False)
    return pa.DataFrameSchema(columns)


def _required_missing(contract: Contract, cycle: Cycle, population: str, df: pd.DataFrame):
    """Required contract columns absent from `df` (design columns the cycle switched off aside)."""
    design_off = {
        default
        for attr, default in (("weight", "weight"), ("strata", "stratum"), ("psu", "psu"))
        if getattr(cycle.design, attr) is None
    }
    return [c for c in contract.required(population) if c not in df and c not in design_off]


# --------------------------------------------------------------------------- main entry


def validate_instrument(
    df: pd.DataFrame,
    contract: Contract,
    cycle: Cycle,
    name: str,
    rules: ValidationRules | None = None,
    *,
    source: str | Path | None = None,
    unknown_codes: pd.DataFrame | None = None,
) -> ValidationResult:
    """Validate one instrument's mapped data (intake output) against contract and rules.

    Raises `InputError` when a required column is not mapped; every row-level problem
    becomes an issue, and rows with an error are quarantined with their reasons.
    `unknown_codes` is intake's table of codes it left in place (column, value, rows): those
    rows are quarantined too, also for `q_*` items whose codes come from the XLSForm.
    """
    rules = rules or ValidationRules()
    inst = cycle.instruments[name]
    population = inst.population
    file = str(source) if source is not None else inst.data
    missing = _required_missing(contract, cycle, population, df)
    if missing:
        raise InputError(
            f"required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing from the {name} instrument.",
            path=file,
            field=missing[0],
            hint=f"Map {'them' if len(missing) > 1 else 'it'} in cycle.yml under "
            f"instruments.{name}.mapping (contract column: export column), or correct the "
            "export's header.",
        )
    raw = df.reset_index(drop=True)
    if ROW not in raw:
        raw[ROW] = np.arange(1, len(raw) + 1)
    out = raw.copy()
    col = _Collector(file, raw)
    hint = {k: v.replace("{inst}", name) for k, v in HINTS.items()}

    # ---- types
    contract_cols = [c for c in contract.names() if c in raw]
    for cname in contract_cols:
        values, failed = _coerce(raw[cname], contract.column(cname))
        out[cname] = values
        for pos in np.flatnonzero(failed.to_numpy()):
            val = raw[cname].iloc[pos]
            c = contract.column(cname)
            col.add(
                int(pos),
                cname,
                "type",
                "error",
                f"'{val}' is not a valid {c.type}"
                + (f" (allowed: {', '.join(map(str, c.codes))})" if c.codes else ""),
                hint["type"].replace("{col}", cname),
            )

    # ---- codes, ranges, required values (pandera)
    schema = _schema(contract, population, contract_cols, rules)
    try:
        schema.validate(out, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        for rec in fc.itertuples(index=False):
            pos = int(rec.index)
            cname = str(rec.column)
            check = str(rec.check)
            if check == "not_nullable":
                if pos in col.errors and any(
                    r.startswith(f"type ({cname})") for r in col.errors[pos]
                ):
                    continue  # already reported as a type error
                col.add(pos, cname, "required_value", "error", "is empty", hint["required_value"])
                continue
            rule = "allowed_codes" if check.startswith("isin") else "range"
            val = _fmt(rec.failure_case)
            if rule == "allowed_codes":
                c = contract.column(cname)
                codes = (
                    c.codes
                    if cname != "region" or rules.country is None
                    else (rules.country.region_codes())
                )
                msg = f"'{val}' is not an allowed code ({', '.join(map(str, codes or []))})"
            else:
                lo, hi = contract.column(cname).range
                msg = f"{val} is outside the range {_fmt(lo)}-{_fmt(hi)}"
            col.add(
                pos,
                cname,
                rule,
                "error",
                msg,
                hint[rule].replace("{col}", cname).replace("{val}", val),
            )

    # ---- codes intake could not map (contract columns are caught above; items here)
    if unknown_codes is not None and len(unknown_codes):
        where = {r: p for p, r in enumerate(col.rows)}
        for rec in unknown_codes.itertuples(index=False):
            cname, val = str(rec.column), str(rec.value)
            for r in str(rec.rows).split():
                pos = where.get(int(r))
                if pos is None or any(
                    e.startswith(f"{k} ({cname})")
                    for k in ("allowed_codes", "type")
                    for e in col.errors.get(pos, [])
                ):
                    continue
                col.add(
                    pos,
                    cname,
                    "unknown_code",
                    "error",
                    f"'{val}' is not a code of the form or the contract",
                    hint["allowed_codes"].replace("{col}", cname).replace("{val}", val),
                )

    # ---- consent
    if "consent" in out:
        cons = out["consent"]
        for pos in np.flatnonzero((cons != True).fillna(True).to_numpy()):  # noqa: E712
            val = cons.iloc[pos]
            if pos in col.errors and "type (consent)" in col.errors[pos]:
                continue
            what = "no consent recorded" if _missing(val) else "consent was refused"
            col.add(int(pos), "consent", "consent", "error", what, hint["consent"])

    _check_duplicates(out, col, hint)
    _check_durations(out, inst, col, hint)

    # ---- Kobo review status
    if "validation_status" in out:
        st = out["validation_status"].astype("object")
        for pos in np.flatnonzero((st == "not_approved").to_numpy()):
            col.add(
                int(pos),
                "validation_status",
                "not_approved",
                "error",
                "marked not approved in KoboToolbox review",
                hint["not_approved"],
            )
        for pos in np.flatnonzero((st == "on_hold").to_numpy()):
            col.add(
                int(pos),
                "validation_status",
                "on_hold",
                "warning",
                "on hold in KoboToolbox review",
                hint["on_hold"],
            )

    _check_skips(out, contract, population, rules, col)

    # ---- split
    bad = sorted(col.errors)
    reasons = {p: "; ".join(dict.fromkeys(col.errors[p])) for p in bad}
    quarantine = raw.iloc[bad].copy()
    quarantine.insert(0, "reason", [reasons[p] for p in bad])
    for p in bad:
        col.log.append(
            {
                "file": file,
                "row": col.rows[p],
                "respondent_id": col.ids[p],
                "column": "",
                "action": "quarantine",
                "old_value": "",
                "new_value": "",
                "rule": reasons[p],
            }
        )
    kept = out.drop(index=bad).reset_index(drop=True)
    issues = _sorted_frame(col.issues, ISSUE_COLUMNS)
    log = _sorted_frame(col.log, LOG_COLUMNS)
    return ValidationResult(
        instrument=name,
        population=population,
        file=file,
        received=len(raw),
        kept=kept,
        quarantine=quarantine.reset_index(drop=True),
        issues=issues,
        log=log,
    )


def _sorted_frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=columns)
    df["row"] = pd.array(df["row"], dtype="Int64")
    keys = [c for c in ("file", "row", "column", "rule", "action") if c in columns]
    return df.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def _check_duplicates(out: pd.DataFrame, col: _Collector, hint: dict) -> None:
    """Duplicate ids (same id twice) and duplicate submissions (same answers, other ids).

    For a repeated id with identical answers the first row (lowest source row) is kept and
    the copies are quarantined; when the answers differ no copy can be trusted over another,
    so all are quarantined.
    """
    answers = [c for c in out.columns if c not in NOT_ANSWERS and not str(c).startswith("_")]
    if not answers:
        return
    sig = pd.util.hash_pandas_object(out[answers].astype("object").astype("str"), index=False)
    if "respondent_id" in out:
        ids = out["respondent_id"]
        dup = ids.notna() & ids.duplicated(keep=False)
        for rid, grp in out[dup].groupby(ids[dup], sort=True):
            positions = sorted(grp.index, key=lambda p: col.rows[p])
            same = sig.iloc[positions].nunique() == 1
            for i, p in enumerate(positions):
                if same and i == 0:
                    continue
                msg = (
                    f"id '{rid}' repeats row {col.rows[positions[0]]} with the same answers"
                    if same
                    else f"id '{rid}' is also used by row(s) "
                    + ", ".join(str(col.rows[q]) for q in positions if q != p)
                    + " with different answers"
                )
                col.add(p, "respondent_id", "duplicate_id", "error", msg, hint["duplicate_id"])
    first_id = ~out["respondent_id"].duplicated() if "respondent_id" in out else True
    cand = out.index[np.asarray(first_id & True)]
    seen: dict[int, int] = {}
    for p in sorted(cand, key=lambda p: col.rows[p]):
        h = int(sig.iloc[p])
        if h in seen:
            q = seen[h]
            col.add(
                p,
                "",
                "duplicate_submission",
                "error",
                f"same answers as row {col.rows[q]} (id '{col.ids[q]}')",
                hint["duplicate_submission"],
            )
        else:
            seen[h] = p


def _check_durations(out: pd.DataFrame, inst, col: _Collector, hint: dict) -> None:
    if "started_at" not in out or "ended_at" not in out:
        return
    minutes = (out["ended_at"] - out["started_at"]).dt.total_seconds() / 60
    lo, hi = inst.min_duration_minutes, inst.max_duration_minutes
    for pos, m in enumerate(minutes.tolist()):
        if _missing(m):
            continue
        if m < 0:
            col.add(
                pos,
                "ended_at",
                "duration_negative",
                "warning",
                f"interview ends {-m:.1f} minutes before it starts",
                hint["duration_negative"],
            )
        elif lo is not None and m < lo:
            col.add(
                pos,
                "ended_at",
                "duration_short",
                "error",
                f"interview took {m:.1f} minutes; the minimum plausible is {_fmt(lo)}",
                hint["duration_short"],
            )
        elif hi is not None and m > hi:
            col.add(
                pos,
                "ended_at",
                "duration_long",
                "warning",
                f"interview took {m:.1f} minutes; the maximum plausible is {_fmt(hi)}",
                hint["duration_long"],
            )


def _check_skips(
    out: pd.DataFrame, contract: Contract, population: str, rules: ValidationRules, col
) -> None:
    for rule in rules.skip:
        if population not in rule.populations:
            continue
        if rule.within is not None:
            if rule.column not in out or rules.country is None:
                continue
            age = pd.to_numeric(out[rule.column], errors="coerce").astype("float64")
            if rule.within == "child_band":
                band = rules.country.child_band
                bad, label = (age < band.min) | (age > band.max), f"{band.min}-{band.max}"
            else:
                lo = rules.country.age_bands[0]
                bad, label = age < lo, f"{lo}+"
            for pos in np.flatnonzero(bad.fillna(False).to_numpy()):
                col.add(
                    int(pos),
                    rule.column,
                    rule.id,
                    rule.severity,
                    rule.message.format(val=_fmt(age.iloc[pos]), band=label),
                    rule.hint,
                )
            continue
        targets = list(rule.columns) + [c.name for c in contract.columns if c.role in rule.roles]
        for cname in targets:
            if cname not in out:
                continue
            filled = out[cname].notna().to_numpy()
            for pos in np.flatnonzero(filled):
                old = out[cname].iloc[pos]
                col.add(
                    int(pos),
                    cname,
                    rule.id,
                    rule.severity,
                    rule.message.format(val=f"{cname}={_fmt(old)}"),
                    rule.hint,
                )
                col.clean(int(pos), cname, old, None, rule.id)
            if filled.any():
                out.loc[filled, cname] = None


# --------------------------------------------------------------------------- cycle


@dataclass
class CycleValidation:
    """All instruments of a cycle validated: what the runner and the CLI act on.

    `stop_reasons` lists what stops the run (file-level errors, instruments with no usable
    row); quarantined rows and warnings alone do not stop it.
    """

    iso: str
    cycle: int
    results: dict[str, ValidationResult] = field(default_factory=dict)
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOG_COLUMNS))
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    stop_reasons: list[str] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)
    #: each stopping problem's cycle.yml fragment (None where no fix can be written)
    fixes: list = field(default_factory=list)
    #: (file, column, message) of the problems the fix block covers; their stop reasons
    fixed: set = field(default_factory=set)
    file_reasons: set = field(default_factory=set)

    file_issues: list = field(default_factory=list)

    def add_file_problems(self, name: str, err: VoicesError, cycle_dir: Path, default: str) -> int:
        """Record a file-level error (or each of `Problems`) as stopping issues of `name`;
        the issue frame is left on `file_issues` for the caller. Returns how many."""
        found = err.problems if isinstance(err, Problems) else [err]
        records = []
        for e in found:
            bad_file = _erring_file(e, cycle_dir, default)
            records.append(
                {
                    "file": bad_file,
                    "row": e.row if isinstance(e.row, int) else None,
                    "respondent_id": None,
                    "column": e.field or "",
                    "rule": "file",
                    "severity": "error",
                    "message": e.problem.rstrip("."),
                    "hint": e.hint or "",
                }
            )
            where = bad_file + (f" row {e.row}" if isinstance(e.row, int) else "")
            reason = f"{name}: {where}: {e.problem.rstrip('.')}"
            self.stop_reasons.append(reason)
            self.file_reasons.add(reason)
            self.fixes.append(e.fix)
            if e.fix:
                self.fixed.add((bad_file, e.field or "", e.problem.rstrip(".")))
        self.file_issues.append(pd.DataFrame(records, columns=ISSUE_COLUMNS))
        return len(found)

    def fix_yaml(self) -> str:
        """One paste-ready cycle.yml block fixing every problem that has a written fix."""
        merged = merge_fixes(self.fixes)
        return fix_yaml(merged) if merged else ""

    @property
    def ok(self) -> bool:
        return not self.stop_reasons

    def quarantine(self) -> pd.DataFrame:
        frames = []
        for name in sorted(self.results):
            q = self.results[name].quarantine.drop(columns=["instrument"], errors="ignore")
            q.insert(0, "instrument", name)
            frames.append(q)
        if not frames:
            return pd.DataFrame(columns=["instrument", "reason", ROW])
        q = pd.concat(frames, ignore_index=True)
        lead = ["instrument", ROW, "respondent_id", "reason"]
        lead = [c for c in lead if c in q]
        return q[lead + [c for c in q.columns if c not in lead]]

    def summary(self, first: int = 5) -> str:
        """A readable summary: counts per instrument, by rule and severity, first issues."""
        lines = [f"{self.iso} {self.cycle}: " + ("OK" if self.ok else "STOPPED")]
        lines.append(
            f"  {'instrument':<12} {'received':>8} {'kept':>6} {'quarant.':>8} "
            f"{'errors':>6} {'warnings':>8}"
        )
        for name in sorted(self.counts):
            c = self.counts[name]
            lines.append(
                f"  {name:<12} {c['received']:>8} {c['kept']:>6} "
                f"{c['quarantined']:>8} {c['errors']:>6} {c['warnings']:>8}"
            )
        if len(self.issues):
            by = self.issues.groupby(["severity", "rule"]).size().sort_index()
            lines.append("  issues by rule:")
            for (sev, rule), n in by.items():
                lines.append(f"    {sev:<8} {rule:<22} {n:>6}")
        files = self.issues[self.issues["rule"].eq("file")] if len(self.issues) else self.issues
        if len(files):
            # every problem that stops the run, not the first few: one run shows them all
            lines.append(f"  {len(files)} problem(s) with files and mappings, all listed:")
            for rec in files.itertuples():
                where = rec.file + (f" row {rec.row}" if not _missing(rec.row) else "")
                where += f", {rec.column}" if rec.column else ""
                fixed = (rec.file, rec.column, rec.message) in self.fixed
                lines.append(
                    f"    [{rec.severity}] {where}: {rec.message}."
                    + (" (fix in the block below)" if fixed else f" {rec.hint}")
                )
        rows = self.issues[~self.issues["rule"].eq("file")] if len(self.issues) else self.issues
        if len(rows):
            lines.append(f"  first {min(first, len(rows))} of {len(rows)} row issues:")
            order = rows.assign(_s=rows["severity"].ne("error"))
            for rec in (
                order.sort_values(["_s", "file", "row"], kind="stable").head(first).itertuples()
            ):
                where = rec.file + (f" row {rec.row}" if not _missing(rec.row) else "")
                if isinstance(rec.respondent_id, str):
                    where += f" (id {rec.respondent_id})"
                if rec.column:
                    where += f", {rec.column}"
                lines.append(f"    [{rec.severity}] {where}: {rec.message}. {rec.hint}")
        others = [r for r in self.stop_reasons if r not in self.file_reasons]
        if len(files):
            lines.append(f"  stops the run: the {len(files)} problem(s) with files and mappings")
        for reason in others:
            lines.append(f"  stops the run: {reason}")
        block = self.fix_yaml()
        if block:
            lines.append(
                f"  paste into data/{self.iso}/{self.cycle}/cycle.yml, merged with what is "
                "there; check every line marked guess or TODO (also in fixes.yml):"
            )
            lines += ["    " + line for line in block.splitlines()]
        for what, path in sorted(self.paths.items()):
            lines.append(f"  {what}: {path}")
        return "\n".join(lines)

    def raise_if_stopped(self) -> None:
        if not self.ok:
            n = len(self.stop_reasons)
            shown = "; ".join(self.stop_reasons[:3]) + (f"; and {n - 3} more" if n > 3 else "")
            fixes = self.paths.get("fixes")
            raise ValidationFailed(
                f"validation of {self.iso} {self.cycle} found {n} problem{'s' if n > 1 else ''} "
                f"that stop the run: {shown}.",
                path=self.paths.get("issues"),
                report_path=self.paths.get("issues"),
                hint="Fix them (the issues file lists every problem with a hint"
                + (f"; {fixes} is one cycle.yml block fixing the mapping problems" if fixes else "")
                + f"; `voicescount validate --country {self.iso} --cycle {self.cycle}` shows "
                "them all) and run again.",
            )


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV atomically and deterministically (LF, fixed float format, UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
    atomic_write_text(path, buf.getvalue())


def _erring_file(err: VoicesError, cycle_dir: Path, export: str) -> str:
    """The file an intake error is about, relative to the cycle folder: the XLSForm, the
    export or cycle.yml (an instrument has several files; naming the export for a broken form
    sent analysts to the wrong one)."""
    if err.path is None:
        return export
    try:
        return Path(err.path).resolve().relative_to(Path(cycle_dir).resolve()).as_posix()
    except ValueError:
        return str(err.path)


def validate_cycle(
    project: Project,
    iso: str,
    cycle: int | str,
    out_dir: str | Path | None = None,
    side_files: Sequence[tuple[str, Path, Callable[[Path], object]]] = (),
) -> CycleValidation:
    """Read (intake) and validate every instrument of a cycle; write issues, log, quarantine.

    A problem with one instrument's file is recorded as a stopping issue and the others are
    still validated, and intake reports every mapping and code problem of a file at once, so
    one run shows everything. `side_files` are (cycle.yml key, path, reader) of the cycle's
    side files (the readers live above this layer: `prepare.side_files` lists them); every
    bad row of each is a stopping issue. Files are written to `out_dir` (default: the
    cycle's build folder) as issues.csv, cleaning_log.csv, quarantine.csv and, when a fix
    can be written, fixes.yml (one cycle.yml block).
    """
    cyc = project.cycle(iso, cycle)
    contract = load_contract(project.data_dir)
    rules = ValidationRules(country=project.country(iso))
    cv = CycleValidation(iso=iso, cycle=int(cyc.cycle))
    issue_frames, log_frames = [], []
    for name in sorted(cyc.instruments):
        inst = cyc.instruments[name]
        try:
            res = intake.read_instrument(project, cyc, name)
            vr = validate_instrument(
                res.data,
                contract,
                cyc,
                name,
                rules,
                source=inst.data,
                unknown_codes=getattr(res, "unknown_codes", None),
            )
        except VoicesError as err:
            n = cv.add_file_problems(name, err, project.cycle_dir(iso, cyc.cycle), inst.data)
            issue_frames.append(cv.file_issues.pop())
            cv.counts[name] = {
                "received": 0,
                "kept": 0,
                "quarantined": 0,
                "errors": n,
                "warnings": 0,
            }
            continue
        cv.results[name] = vr
        notes = [str(n) for n in getattr(res, "notes", []) or []]
        log_frames.append(
            pd.DataFrame(
                [
                    {
                        "file": inst.data,
                        "row": None,
                        "respondent_id": None,
                        "column": "",
                        "action": "intake_note",
                        "old_value": "",
                        "new_value": "",
                        "rule": n,
                    }
                    for n in notes
                ],
                columns=LOG_COLUMNS,
            )
        )
        issue_frames.append(vr.issues)
        log_frames.append(vr.log)
        cv.counts[name] = vr.counts()
        if vr.received and not len(vr.kept):
            cv.stop_reasons.append(f"{name}: every one of {vr.received} rows was quarantined")
    cdir = project.cycle_dir(iso, cyc.cycle)
    for key, path, reader in side_files:
        # a side file is checked whole: every bad row, not the first (see sidefiles.collecting)
        try:
            with sidefiles.collecting(path):
                reader(path)
        except VoicesError as err:
            cv.add_file_problems(key, err, cdir, Path(path).name)
            issue_frames.append(cv.file_issues.pop())
    frames = [f for f in issue_frames if len(f)]
    cv.issues = (
        _sorted_frame(pd.concat(frames, ignore_index=True).to_dict("records"), ISSUE_COLUMNS)
        if frames
        else pd.DataFrame(columns=ISSUE_COLUMNS)
    )
    frames = [f for f in log_frames if len(f)]
    cv.log = (
        _sorted_frame(pd.concat(frames, ignore_index=True).to_dict("records"), LOG_COLUMNS)
        if frames
        else pd.DataFrame(columns=LOG_COLUMNS)
    )
    out = Path(out_dir) if out_dir is not None else project.build_dir(iso, cycle)
    cv.paths = {
        "issues": out / "issues.csv",
        "cleaning_log": out / "cleaning_log.csv",
        "quarantine": out / "quarantine.csv",
    }
    write_csv(cv.issues, cv.paths["issues"])
    write_csv(cv.log, cv.paths["cleaning_log"])
    write_csv(cv.quarantine(), cv.paths["quarantine"])
    block = cv.fix_yaml()
    fix_path = out / "fixes.yml"
    if block:
        cv.paths["fixes"] = fix_path
        atomic_write_text(fix_path, block + "\n")
    elif fix_path.exists():
        fix_path.unlink()  # a disposable output: no stale fixes after a clean run
    return cv
