"""Draft a cycle.yml from an instrument's XLSForm and its raw export (`voicescount init-cycle`).

Why: an analyst used to write ~200 lines of mapping per instrument by hand, although the
XLSForm already holds every question's name, group path, type, choices and labels. The draft
proposes what can be read off the form and the export's headers, and says on each line how it
was found, so the analyst reviews guesses instead of typing paths:

- `mapping` (contract column -> export column): by the contract name, by known aliases
  (`difficulty_seeing`, `resp_sex`, `cluster_id`, ...), by the Washington Group / Child
  Functioning wording of the label, by label words; region by the choices matching the
  country's regions; Kobo/ODK meta columns; indicator items (`q_*`) the catalogue uses.
- `codes`: export code -> contract code where it can be inferred (WG answer choices, sex,
  yes/no consent, regions by label, review statuses seen in the export, SPSS value labels).
- `identifiers`: GPS/phone questions, name/phone/email text questions, device meta.

Lines inferred with less than an exact name are marked `# guess: ...; check`; what could not
be inferred is a `# TODO:` comment. The output is plain YAML with comments (no round-trip YAML
library needed) that `registry.Cycle` accepts; `voicescount validate` then says what is left.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from .contract import Contract, load_contract
from .errors import ConfigError
from .intake import read_raw
from .registry import Country, Instrument, Project
from .xlsform import (
    IDENTIFYING_TYPES,
    UNDETERMINED,
    Codebook,
    Question,
    normalise_language,
    read_form,
)

#: First line of every draft; adding an instrument is only done to a file that starts so.
DRAFT_MARK = "# DRAFT cycle.yml written by `voicescount init-cycle`"

# ---------------------------------------------------------------------- knowledge tables

#: Export meta columns (Kobo, ODK Central, SPSS-flattened Kobo) -> contract column.
META_SOURCES: dict[str, tuple[str, ...]] = {
    "respondent_id": ("_uuid", "KEY", "meta/instanceID", "meta-instanceID", "instanceID", "uuid"),
    "submitted_at": ("_submission_time", "SubmissionDate", "submission_time"),
    "validation_status": ("_validation_status", "ReviewState", "validation_status"),
    "started_at": ("start",),
    "ended_at": ("end",),
}

#: ODK Central review states -> contract validation_status.
ODK_REVIEW = {"approved": "approved", "rejected": "not_approved", "hasIssues": "on_hold"}

#: Question names seen in real forms for a contract column (after the contract name itself).
ALIASES: dict[str, tuple[str, ...]] = {
    "enumerator": ("enumerator_id", "enumerator_code", "interviewer", "interviewer_id", "enum"),
    "consent": ("informed_consent", "consent_given", "agree", "participate"),
    "region": ("state", "division", "zone"),
    "province": ("district", "county", "prefecture"),
    "urban_rural": ("area_type", "urban", "residence", "locality_type", "settlement_type"),
    "sex": ("sex_respondent", "respondent_sex", "gender"),
    "gender_identity": ("gender",),
    "sexual_orientation": ("orientation",),
    "age": ("age_years", "respondent_age", "age_completed"),
    "ethnicity": ("ethnic", "caste_ethnicity", "ethnicity_group", "caste"),
    "ethnic_group": ("ethnic_name", "ethnicity_detail", "caste_detail", "ethnic_detail"),
    "organisation_type": ("organization_type", "org_type", "cso_type"),
    "weight": ("wt", "design_weight", "base_weight", "sampling_weight", "sample_weight", "wgt"),
    "stratum": ("strata", "strat", "sampling_stratum"),
    "psu": ("cluster", "cluster_id", "commune_id", "village_id", "ea", "ea_id", "ward_id"),
}

#: Prefixes a form puts before a plain name (`resp_age`, `respondent_sex`).
NAME_PREFIXES = ("respondent_", "resp_", "r_", "hh_", "q_")

#: Washington Group Short Set: stem, extra names, English wording.
WG_ITEMS: dict[str, tuple[tuple[str, ...], str]] = {
    "wg_seeing": (("see", "vision"), r"difficulty seeing"),
    "wg_hearing": (("hear",), r"difficulty hearing"),
    "wg_walking": (("walk", "mobility"), r"difficulty walking|climbing steps"),
    "wg_cognition": (("remembering", "memory", "cognitive", "remember"), r"remembering or conc"),
    "wg_selfcare": (("self_care", "washing"), r"self-care|washing all over|dressing"),
    "wg_communication": (("communicating", "communicate"), r"communicating|being understood"),
}

#: Child Functioning Module (UNICEF/WG, 5-17): extra names, English wording.
CF_ITEMS: dict[str, tuple[tuple[str, ...], str]] = {
    "cf_seeing": (("see", "vision"), r"difficulty seeing"),
    "cf_hearing": (("hear",), r"difficulty hearing"),
    "cf_walking": (("walk",), r"difficulty walking"),
    "cf_selfcare": (("self_care",), r"self-care|feeding or dressing"),
    "cf_communication": (("communicating",), r"being understood"),
    "cf_learning": (("learn",), r"difficulty learning"),
    "cf_remembering": (("remember", "memory"), r"difficulty remembering"),
    "cf_concentrating": (("concentrate",), r"difficulty concentrating"),
    "cf_accepting_change": (("accept_change", "change"), r"accepting changes"),
    "cf_behaviour": (("behavior", "controlling_behaviour"), r"controlling (his|her|their )?"),
    "cf_friends": (("making_friends",), r"making friends"),
    "cf_anxiety": (("anxious", "worried"), r"anxious|nervous or worried"),
    "cf_depression": (("depressed", "sad"), r"sad or depressed"),
}

#: Label words for the other contract columns (English labels; case-folded).
LABEL_WORDS: dict[str, str] = {
    "enumerator": r"enumerator|interviewer",
    "consent": r"consent|agree to take part|agree to participate",
    "province": r"district|county",
    "urban_rural": r"urban|rural|place of residence",
    "sex": r"\bsex\b",
    "gender_identity": r"\bgender\b",
    "sexual_orientation": r"sexual orientation",
    "age": r"how old|\bage\b",
    "ethnicity": r"ethnic|caste",
    "ethnic_group": r"ethnic group|caste",
    "organisation_type": r"type of organi[sz]ation",
    "weight": r"\bweight\b",
    "stratum": r"\bstrat",
    "psu": r"cluster|primary sampling unit|\bpsu\b|enumeration area",
}

#: Which question types may answer a contract column by type (label and alias matches only).
_SELECT_TYPES = {"select_one"}
_NUMBER_TYPES = {"integer", "decimal", "calculate", "range", "text"}

#: Names/labels of text questions that hold personal data.
_PERSONAL_NAME = re.compile(
    r"(^|_)(name|names|full_?name|phone|phone_?number|mobile|tel|telephone|email|e_?mail|"
    r"address|contact_?number|national_?id|id_?number|nid)($|_)"
)
_PERSONAL_LABEL = re.compile(
    r"your name|name of|respondent'?s name|phone|mobile number|e-?mail|home address|"
    r"national id"
)
#: Meta columns holding personal or device data.
PERSONAL_META = (
    "deviceid",
    "_submitted_by",
    "username",
    "phonenumber",
    "subscriberid",
    "simserial",
    "imei",
    "_geolocation",
    "SubmitterName",
    "SubmitterID",
    "DeviceID",
)
_META_TYPES = {"deviceid", "username", "phonenumber", "subscriberid", "simserial", "email"}

_TRUE = {"yes", "y", "true", "1", "agree", "agreed", "consent", "consented"}
_FALSE = {"no", "n", "false", "0", "2", "disagree", "refused", "do_not_agree"}
_MISSING = ("refuse", "dont_know", "don_t_know", "not_sure", "no_answer", "prefer_not_to_answer")

_SEX_WORDS = {"f": "female", "woman": "female", "girl": "female", "m": "male", "man": "male"}
_SEX_WORDS |= {"boy": "male"}
_FREQUENCY = (("daily", 1), ("weekly", 2), ("monthly", 3), ("few_times", 4), ("never", 5))
_REGION_NOISE = re.compile(r"\b(province|region|division|state|pradesh|zone)\b")


# ---------------------------------------------------------------------- result types


@dataclass
class Line:
    """One proposed value and why (`note`: None for an exact match; else shown as a comment)."""

    value: Any
    note: str | None = None


@dataclass
class InstrumentDraft:
    """What the draft proposes for one instrument (before it is written as YAML)."""

    key: str
    population: str
    form: str
    data: str
    format: str
    values: str
    label: dict[str, str]
    mapping: dict[str, Line] = field(default_factory=dict)
    codes: dict[str, dict[str, Line]] = field(default_factory=dict)
    todo_codes: dict[str, list[str]] = field(default_factory=dict)
    identifiers: list[Line] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    other_languages: list[str] = field(default_factory=list)
    sdgs: list[int] = field(default_factory=list)
    title: dict[str, str] = field(default_factory=dict)
    fieldwork: tuple[str, str, str] | None = None  # (first date, last date, column)


# ---------------------------------------------------------------------- small helpers


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFC", str(text)).strip().casefold()


def slug(text: Any) -> str:
    """`A lot of difficulty` -> `a_lot_of_difficulty`; `Don't know` -> `don_t_know`."""
    return re.sub(r"[^\w]+", "_", _fold(text), flags=re.UNICODE).strip("_")


def _words(text: Any) -> set[str]:
    return set(slug(text).split("_")) - {""}


def _english(q: Question) -> str:
    labels = q.labels
    return _fold(labels.get("en") or labels.get(UNDETERMINED) or next(iter(labels.values()), ""))


def _all_labels(labels: dict[str, str]) -> list[str]:
    return [t for t in labels.values() if t]


def _plain(name: str) -> str:
    """The name without a respondent prefix: `resp_age` -> `age`."""
    low = name.casefold()
    for p in NAME_PREFIXES:
        if low.startswith(p) and len(low) > len(p):
            return low[len(p) :]
    return low


def _last(header: str) -> str:
    return header.replace("-", "/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------- drafting


class _Drafter:
    """Builds one InstrumentDraft; a class only to share the lookups between the steps."""

    def __init__(
        self,
        project: Project,
        country: Country,
        contract: Contract,
        codebook: Codebook,
        headers: list[str],
        rows: list[list[Any]],
        export_codebook: Codebook | None,
        population: str,
        key: str,
    ) -> None:
        self.project = project
        self.country = country
        self.contract = contract
        self.cb = codebook
        self.headers = headers
        self.rows = rows
        self.xcb = export_codebook
        self.population = population
        self.key = key
        self.used: set[str] = set()  # export headers already mapped
        self.mapping: dict[str, Line] = {}
        self.question_of: dict[str, Question] = {}

    # ---------------------------------------------------------------- headers
    def header_of(self, q: Question) -> str | None:
        """The export column holding question q: its group path, ODK dashes, or its name."""
        hs = self.headers
        for cand in (q.path, q.path.replace("/", "-"), q.name):
            if cand in hs:
                return cand
        lasts = [h for h in hs if _last(h) == q.name]
        return lasts[0] if len(lasts) == 1 else None

    def values_of(self, header: str, limit: int = 30) -> list[str]:
        """Distinct non-empty values of an export column, in first-seen order."""
        j = self.headers.index(header)
        out: dict[str, None] = {}
        for r in self.rows:
            v = r[j] if j < len(r) else None
            if v is None or str(v).strip() == "":
                continue
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            out.setdefault(str(v).strip(), None)
            if len(out) >= limit:
                break
        return list(out)

    def _take(self, col: str, q: Question | None, header: str, note: str | None) -> None:
        self.mapping[col] = Line(header, note)
        self.used.add(header)
        if q is not None:
            self.question_of[col] = q

    def _free(self) -> list[tuple[Question, str]]:
        out = []
        for q in self.cb.questions.values():
            if q.type in ("begin_group", "begin_repeat", "note") or q.repeat:
                continue
            h = self.header_of(q)
            if h is not None and h not in self.used:
                out.append((q, h))
        return out

    # ---------------------------------------------------------------- mapping
    def map_meta(self) -> None:
        for col, sources in META_SOURCES.items():
            if col not in self.contract.names():
                continue
            hit = next((s for s in sources if s in self.headers), None)
            if hit is None and col in ("started_at", "ended_at"):
                q = next((q for q in self.cb.questions.values() if q.type == col[:-3]), None)
                hit = self.header_of(q) if q else None
            if hit is not None:
                self._take(col, self.cb.question(hit), hit, None if hit in sources else "")

    def map_region(self) -> None:
        """The select question whose choices are the country's regions (by code or label)."""
        best: tuple[int, Question, str] | None = None
        for q, h in self._free():
            if q.type != "select_one" or not q.list_name:
                continue
            choices = self.cb.choices.get(q.list_name, {})
            hits = sum(
                self.region_code(code, labels) is not None for code, labels in choices.items()
            )
            if hits >= max(2, (len(self.country.regions) + 1) // 2) and (
                best is None or hits > best[0]
            ):
                best = (hits, q, h)
        if best is not None:
            hits, q, h = best
            exact = q.name == "region"
            self._take(
                "region",
                q,
                h,
                None
                if exact
                else f"guess: {hits} of its choices are {self.country.iso} regions; check",
            )

    def _columns(self) -> list[str]:
        return [
            c.name
            for c in self.contract.for_population(self.population)  # type: ignore[arg-type]
            if c.name not in self.mapping
        ]

    def _type_ok(self, col: str, q: Question) -> bool:
        spec = self.contract.column(col)
        if spec.type == "category" or spec.role in ("wg", "cfm"):
            return q.type in _SELECT_TYPES
        if spec.type == "boolean":
            return q.type in ("select_one", "calculate")
        if spec.type in ("integer", "number"):
            return q.type in _NUMBER_TYPES
        if col in ("ethnic_group", "province", "enumerator", "stratum", "psu"):
            return q.type in ("text", "select_one", "calculate", "integer")
        return True

    def map_by_name(self) -> None:
        free = self._free()
        for col in self._columns():
            for q, h in free:
                if h in self.used:
                    continue
                if q.name == col or _last(h) == col:
                    self._take(col, q, h, None)
                    break
        free = self._free()
        functioning = {**WG_ITEMS, **CF_ITEMS}
        for col in self._columns():
            names = [col, *ALIASES.get(col, ())]
            if col in functioning:
                stem = col.split("_", 1)[1]
                extra = functioning[col][0]
                names += [f"difficulty_{stem}", f"diff_{stem}", stem, f"{stem}_difficulty"]
                names += [f"wg_{stem}", f"wgss_{stem}", f"cfm_{stem}", f"cf_{stem}"]
                names += [f"difficulty_{e}" for e in extra] + list(extra)
            for alias in names:
                hit = next(
                    (
                        (q, h)
                        for q, h in free
                        if h not in self.used
                        and (q.name.casefold() == alias or _plain(q.name) == alias)
                        and self._type_ok(col, q)
                    ),
                    None,
                )
                if hit is None:
                    continue
                q, h = hit
                if q.name.casefold() == col:
                    self._take(col, q, h, None)
                else:
                    self._take(col, q, h, f"guess: matched by name '{q.name}'; check")
                break

    def map_by_label(self) -> None:
        functioning = {**WG_ITEMS, **CF_ITEMS}
        for col in self._columns():
            if col in functioning:
                pattern = functioning[col][1]
            elif col in LABEL_WORDS:
                pattern = LABEL_WORDS[col]
            else:
                continue
            cands = [
                (q, h)
                for q, h in self._free()
                if re.search(pattern, _english(q)) and self._type_ok(col, q)
            ]
            if not cands:
                continue
            q, h = cands[0]
            shown = _english(q)[:60].replace('"', "'")
            more = f" ({len(cands) - 1} other candidate(s))" if len(cands) > 1 else ""
            self._take(col, q, h, f'guess: matched by label "{shown}"{more}; check')

    def map_items(self) -> list[int]:
        """Indicator items: questions named as catalogue items (`q_x` or `x`); their goals."""
        prefix = self.contract.item_prefix
        wanted: dict[str, set[int]] = {}
        for ind in self.project.indicators.indicators:
            if ind.instrument != self.key:
                continue
            for rule in (ind.rule, ind.population):
                for item in rule.items() if rule else ():
                    if self.contract.is_item(item):
                        wanted.setdefault(item, set()).add(ind.sdg.goal)
        goals: set[int] = set()
        for q, h in self._free():
            name = q.name
            if self.contract.is_item(name):
                if name not in self.mapping:
                    self._take(name, q, h, None)
                    goals |= wanted.get(name, set())
            elif prefix + name in wanted and prefix + name not in self.mapping:
                item = prefix + name
                self._take(item, q, h, f"guess: '{name}' named as the catalogue item {item}; check")
                goals |= wanted[item]
        return sorted(goals)

    # ---------------------------------------------------------------- codes
    def region_code(self, code: str, labels: dict[str, str]) -> str | None:
        codes = {r.code.casefold(): r.code for r in self.country.regions}
        if _fold(code) in codes:
            return codes[_fold(code)]
        texts = {_REGION_NOISE.sub(" ", _fold(t)).strip() for t in _all_labels(labels)}
        texts = {re.sub(r"\s+", " ", t) for t in texts if t}
        for r in self.country.regions:
            names = {re.sub(r"\s+", " ", _REGION_NOISE.sub(" ", _fold(n)).strip()) for n in
                     _all_labels(r.name)}  # fmt: skip
            if texts & (names | {r.code.casefold()}):
                return r.code
        return None

    def contract_code(self, col: str, code: str, labels: dict[str, str]) -> tuple[Any, str]:
        """(contract code or ..., how) for one choice of a mapped column; `...` = unknown."""
        spec = self.contract.column(col)
        texts = [code, *_all_labels(labels)]
        slugs = [slug(t) for t in texts]
        if col == "region":
            hit = self.region_code(code, labels)
            return (hit, "label matches the region") if hit else (..., "")
        if spec.type == "boolean":
            if any(s in _TRUE for s in slugs):
                return True, "yes"
            if any(s in _FALSE for s in slugs):
                return False, "no"
            return ..., ""
        if any(s.startswith(_MISSING) or s in ("dk", "refused", "ref") for s in slugs):
            return None, "refused/don't know -> missing"
        if spec.role in ("wg", "cfm"):
            if col in ("cf_anxiety", "cf_depression"):
                for word, value in _FREQUENCY:
                    if any(word in s for s in slugs):
                        return value, f"'{word}'"
                return ..., ""
            for s in slugs:
                if s in ("1", "2", "3", "4"):
                    continue
                if "no_difficulty" in s or s in ("no", "none"):
                    return 1, "no difficulty"
                if "some" in s:
                    return 2, "some difficulty"
                if "a_lot" in s or s.startswith("lot"):
                    return 3, "a lot of difficulty"
                if "cannot" in s or "can_t" in s or "unable" in s:
                    return 4, "cannot do at all"
            return ..., ""
        allowed = [str(c) for c in spec.codes or []]
        for s in slugs:
            if s in allowed:
                return s, f"'{s}'"
            if col == "sex" and s in _SEX_WORDS:
                return _SEX_WORDS[s], f"'{s}'"
        for t in texts:  # a label holding exactly one of the codes as a word
            hits = [a for a in allowed if set(a.split("_")) <= _words(t)]
            if len(hits) == 1:
                return hits[0], f"label '{t}'"
        return ..., ""

    def infer_codes(self, draft: InstrumentDraft) -> None:
        for col, line in self.mapping.items():
            header = line.value
            if col == "validation_status":
                self._status_codes(draft, header)
                continue
            spec = None if self.contract.is_item(col) else self.contract.column(col)
            coded = spec is not None and (
                spec.codes is not None or spec.type == "boolean" or col == "region"
            )
            export_labels = self._export_value_labels(header)
            q = self.question_of.get(col)
            if export_labels is not None:  # SPSS/Stata: the file's value labels are the codes
                self._labelled_codes(draft, col, q, export_labels, coded)
                continue
            if not coded:
                continue
            if q is not None and q.list_name:
                choices = self.cb.choices.get(q.list_name, {})
            else:  # a calculate/text: the values seen in the export
                choices = {v: {} for v in self.values_of(header)}
                if spec.type == "boolean" and set(map(slug, choices)) <= {"yes", "no"}:
                    choices = {"yes": {}, "no": {}} | choices  # the answer not seen yet too
            self._choice_codes(draft, col, choices)

    def _status_codes(self, draft: InstrumentDraft, header: str) -> None:
        out = {}
        seen = self.values_of(header)
        statuses = ("approved", "not_approved", "on_hold")
        if any(v.startswith("validation_status_") for v in seen):  # Kobo XML values
            seen += [f"validation_status_{s}" for s in statuses]
        if any(v in ("Approved", "Not Approved", "On Hold") for v in seen):  # Kobo labels
            seen += ["Approved", "Not Approved", "On Hold"]
        if header == "ReviewState" or set(seen) & set(ODK_REVIEW):  # ODK Central
            for v in ODK_REVIEW:
                out[v] = Line(ODK_REVIEW[v], None)
        for v in dict.fromkeys(seen):
            if v in ODK_REVIEW:
                continue
            key = slug(v).removeprefix("validation_status_")
            if key in statuses and v != key:
                out[v] = Line(key, None)
        if out:
            draft.codes["validation_status"] = out

    def _export_value_labels(self, header: str) -> dict[str, dict[str, str]] | None:
        if self.xcb is None:
            return None
        q = self.xcb.questions.get(header)
        if q is None or not q.list_name:
            return None
        return self.xcb.choices.get(q.list_name) or None

    def _labelled_codes(
        self,
        draft: InstrumentDraft,
        col: str,
        q: Question | None,
        export_labels: dict[str, dict[str, str]],
        coded: bool,
    ) -> None:
        """Export codes (1, 2) -> the form's choice names by label -> contract codes."""
        form_choices = self.cb.choices.get(q.list_name, {}) if q is not None and q.list_name else {}
        by_label = {_fold(t): name for name, labs in form_choices.items() for t in labs.values()}
        out: dict[str, Line] = {}
        todo = []
        for code, labels in export_labels.items():
            text = next(iter(_all_labels(labels)), "")
            name = by_label.get(_fold(text))
            if not coded:
                if name is not None:
                    out[code] = Line(name, None)
                continue
            target, how = self.contract_code(col, name or code, form_choices.get(name, labels))
            if target is ...:
                todo.append(f"{code!r} (label {text!r})")
            else:
                out[code] = Line(target, None)
        if out:
            draft.codes[col] = out
        if todo:
            draft.todo_codes[col] = todo

    def _choice_codes(self, draft: InstrumentDraft, col: str, choices: dict) -> None:
        spec = self.contract.column(col)
        allowed = {str(c).casefold() for c in spec.codes or []}
        if col == "region":
            allowed = {r.code.casefold() for r in self.country.regions}
        out: dict[str, Line] = {}
        todo = []
        for code, labels in choices.items():
            if code.casefold() in allowed:
                continue
            target, how = self.contract_code(col, code, labels)
            shown = next(iter(_all_labels(labels)), code)
            if target is ...:
                todo.append(f"{code!r} (label {shown!r})")
            elif spec.type == "boolean" and slug(code) in ("yes", "no"):
                out[code] = Line(target, None)
            else:
                out[code] = Line(target, f"guess: {how}; check")
        if out:
            draft.codes[col] = out
        if todo:
            draft.todo_codes[col] = todo

    def fieldwork(self) -> tuple[str, str, str] | None:
        """First and last interview date: the date part of `start` (local), else `today`."""
        for col in ("started_at", "submitted_at"):
            header = self.mapping.get(col)
            if header is None:
                continue
            j = self.headers.index(header.value)
            days = sorted({_day(r[j]) for r in self.rows if j < len(r) and _day(r[j]) is not None})
            if days:
                return days[0], days[-1], header.value
        return None

    # ---------------------------------------------------------------- identifiers
    def identifiers(self) -> list[Line]:
        out: dict[str, Line] = {}
        mapped = {line.value for line in self.mapping.values()}
        for q in self.cb.questions.values():
            h = self.header_of(q)
            if q.type in IDENTIFYING_TYPES:
                for hh in self.headers:
                    if hh == h or hh == q.path or hh.startswith(f"_{q.path}_"):
                        out.setdefault(hh, Line(hh, f"guess: {q.type} question {q.name}"))
                continue
            if h is None or h in mapped:
                continue
            if q.type in _META_TYPES:
                out.setdefault(h, Line(h, f"guess: device meta ({q.type})"))
            elif q.type == "text" and (
                _PERSONAL_NAME.search(q.name.casefold()) or _PERSONAL_LABEL.search(_english(q))
            ):
                out.setdefault(
                    h, Line(h, f"guess: text question '{q.name}' asks for personal data")
                )
        for h in self.headers:
            if h in PERSONAL_META and h not in mapped:
                out.setdefault(h, Line(h, "guess: personal meta column"))
        return list(out.values())


def _day(v: Any) -> str | None:
    """`2025-03-10T09:15:00+05:45` or a datetime -> `2025-03-10` (the interview's own day)."""
    if isinstance(v, datetime | date):
        return v.strftime("%Y-%m-%d")
    m = re.match(r"(\d{4}-\d{2}-\d{2})", str(v or "").strip())
    return m.group(1) if m else None


def _guess_population(cb: Codebook, key: str) -> str:
    if key in ("adults", "cso", "children"):
        return key
    text = " ".join(_english(q) for q in cb.questions.values())
    if "this child" in text or "guardian" in text:
        return "children"
    if "organisation" in text or "organization" in text:
        return "cso"
    return "adults"


def _values_kind(d: _Drafter) -> str:
    """`labels` when the export's select answers are choice labels rather than names."""
    names = labels = 0
    for col, q in d.question_of.items():
        if not q.list_name or col not in d.mapping:
            continue
        choices = d.cb.choices.get(q.list_name, {})
        label_set = {_fold(t) for labs in choices.values() for t in labs.values()}
        for v in d.values_of(d.mapping[col].value, limit=10):
            names += v in choices
            labels += v not in choices and _fold(v) in label_set
    return "labels" if labels > names else "xml"


def _inside(cdir: Path, given: str | Path, what: str) -> str:
    """The file's path relative to the cycle folder (it must be there already)."""
    p = Path(given)
    cands = [p] if p.is_absolute() else [cdir / p, Path.cwd() / p]
    for c in cands:
        if c.is_file():
            try:
                return c.resolve().relative_to(cdir.resolve()).as_posix()
            except ValueError:
                raise ConfigError(
                    f"the {what} {given} is outside the cycle folder {cdir}.",
                    path=c,
                    hint=f"Copy it into {cdir} (e.g. {cdir / ('forms' if what == 'form' else 'exports') / p.name}) "  # noqa: E501
                    "and give the path relative to the cycle folder.",
                ) from None
    raise ConfigError(
        f"the {what} {given} does not exist in {cdir}.",
        path=cdir / p,
        hint=f"Put the raw {what} file in the cycle folder first; init-cycle never moves it.",
    )


def draft_instrument(
    project: Project,
    iso: str,
    cycle: int | str,
    form: str | Path,
    export: str | Path,
    instrument: str | None = None,
    population: str | None = None,
) -> InstrumentDraft:
    """Propose one instrument's cycle.yml entry from its XLSForm and raw export (read-only)."""
    cdir = project.cycle_dir(iso, cycle)
    form_rel = _inside(cdir, form, "form")
    data_rel = _inside(cdir, export, "export")
    country = project.country(iso)
    contract = load_contract(project.data_dir)
    cb = read_form(cdir / form_rel)
    key = instrument or Path(form_rel).stem
    if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
        raise ConfigError(
            f"instrument name '{key}' is not a lower-case identifier.",
            hint="Give --instrument, e.g. --instrument adults.",
        )
    pop = population or _guess_population(cb, key)
    if pop not in ("adults", "cso", "children"):
        raise ConfigError(
            f"population '{pop}' is not one of adults, cso, children.",
            hint="Give --population adults, cso or children.",
        )
    shell = Instrument(label={"en": key}, population=pop, data=data_rel)  # type: ignore[arg-type]
    raw = read_raw(cdir / data_rel, shell, cb)
    d = _Drafter(project, country, contract, cb, raw.main.headers, raw.main.rows, raw.codebook,
                 pop, key)  # fmt: skip
    d.map_meta()
    d.map_region()
    d.map_by_name()
    d.map_by_label()
    goals = d.map_items()
    title = str(cb.settings.get("form_title") or cb.settings.get("title") or "").strip()
    default = cb.settings.get("default_language")
    langs = [x for x in cb.languages if x != UNDETERMINED]
    iso_langs = [x for x in langs if re.fullmatch(r"[a-z]{2,3}", x)]
    title_lang = (
        (iso_langs[0] if iso_langs else "en")
        if not default
        else next((x for x in iso_langs if x == _lang(default)), "en")
    )
    draft = InstrumentDraft(
        key=key,
        population=pop,
        form=form_rel,
        data=data_rel,
        format=raw.format.rstrip("?") or "auto",
        values=_values_kind(d),
        label={title_lang: title or key},
        languages=iso_langs,
        other_languages=[x for x in langs if x not in iso_langs],
        sdgs=goals,
        title={title_lang: title} if title else {},
        fieldwork=d.fieldwork(),
    )
    d.infer_codes(draft)
    draft.mapping = dict(d.mapping)
    draft.identifiers = d.identifiers()
    draft.missing = [
        c
        for c in contract.required(pop)
        if c not in d.mapping  # type: ignore[arg-type]
    ]
    return draft


def _lang(name: Any) -> str:
    return normalise_language(name)


# ---------------------------------------------------------------------- YAML writing

_RESERVED = {"yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"}


def _key(k: Any) -> str:
    s = str(k)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s) and s.casefold() not in _RESERVED:
        return s
    return json.dumps(s, ensure_ascii=False)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    s = str(v)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", s) and s.casefold() not in _RESERVED:
        return s
    return json.dumps(s, ensure_ascii=False)


def _comment(note: str | None) -> str:
    return f"  # {' '.join(note.split())}" if note else ""


def _flow(items: list[Any]) -> str:
    return "[" + ", ".join(_scalar(x) for x in items) + "]"


def instrument_yaml(d: InstrumentDraft) -> list[str]:
    """The `instruments:` entry of one draft, indented under `instruments:`."""
    out = [f"  {d.key}:"]
    out.append("    label:  # TODO: the instrument's name in each page language")
    out += [f"      {_key(k)}: {_scalar(v)}" for k, v in d.label.items()]
    out.append(f"    population: {d.population}")
    out.append(f"    form: {_scalar(d.form)}")
    out.append(f"    data: {_scalar(d.data)}")
    out.append(f"    format: {d.format}" + _comment("guess: from the file and its headers"))
    note = "guess: the export's answers are choice labels" if d.values == "labels" else None
    out.append(f"    values: {d.values}" + _comment(note))
    out.append("    mapping:")
    for col, line in d.mapping.items():
        out.append(f"      {_key(col)}: {_scalar(line.value)}" + _comment(line.note))
    for col in d.missing:
        out.append(f"      # {col}: <export column>  # TODO: required by the contract, not found")
    if d.codes or d.todo_codes:
        out.append("    codes:")
    for col in dict.fromkeys([*d.codes, *d.todo_codes]):
        empty = not d.codes.get(col)  # only TODO lines: an empty map, the TODOs below it
        out.append(f"      {_key(col)}:" + (" {}" if empty else ""))
        for code, line in d.codes.get(col, {}).items():
            out.append(f"        {_key(code)}: {_scalar(line.value)}" + _comment(line.note))
        for text in d.todo_codes.get(col, []):
            out.append(
                f"        # TODO: no contract code found for {text}; add `code: <contract code>`"
            )
    if d.identifiers:
        out.append("    identifiers:")
        out += [f"    - {_scalar(x.value)}" + _comment(x.note) for x in d.identifiers]
    else:
        out.append("    identifiers: []  # TODO: none found; list columns with personal data")
    out.append("    # min_duration_minutes: 5  # optional: flag interviews shorter than this")
    out.append("    # max_duration_minutes: 180")
    return out


def cycle_yaml(project: Project, iso: str, cycle: int | str, d: InstrumentDraft) -> str:
    """A whole draft cycle.yml for one instrument (instruments last, so more can be added)."""
    country = project.country(iso)
    langs = d.languages or list(country.languages)
    lang_note = "from the form's label columns"
    if not d.languages:
        lang_note = f"guess: the form has no language columns; {iso}'s languages"
    if d.other_languages:
        lang_note += f"; not ISO codes, left out: {', '.join(d.other_languages)}"
    sdgs = d.sdgs
    sdg_note = "guess: goals of the catalogue indicators whose items the form has; check"
    if not sdgs:
        sdgs = [16]
        sdg_note = "TODO: placeholder; no indicator item matched: list the goals the cycle reports"
    lines = [
        f"{DRAFT_MARK} from {d.form} and {d.data}.",
        "# Every line marked `# guess:` was inferred from the form and the export: check it;",
        "# `# TODO:` lines need an answer. Unmarked mapping lines matched a contract name exactly.",
        "# Next: review this file, then run",
        f"#   voicescount validate data/{iso}/{cycle}",
        "# and fix what it reports (unmapped codes, missing required columns). Add another",
        "# instrument with `voicescount init-cycle ... --instrument <name>`.",
        f"country: {iso}",
        f"cycle: {int(cycle)}",
    ]
    if d.title:
        lines.append("title:  # guess: the form's title (settings sheet); write the report's title")
        lines += [f"  {_key(k)}: {_scalar(v)}" for k, v in d.title.items()]
    else:
        lines.append("# title: {en: ...}  # TODO: the report's title")
    lines.append(f"languages: {_flow(langs)}" + _comment(lang_note))
    lines.append(f"sdgs: {_flow(sdgs)}" + _comment(sdg_note))
    if d.fieldwork:
        first, last, col = d.fieldwork
        note = f"guess: first and last interview dates in {d.data} ({col}); check"
        lines.append(f"fieldwork: {{start: '{first}', end: '{last}'}}" + _comment(note))
    else:
        lines.append("# fieldwork: {start: 'YYYY-MM-DD', end: 'YYYY-MM-DD'}  # TODO: the dates")
    lines.append("design:  # contract names (the mapping says which export column each is)")
    for attr, col in (("weight", "weight"), ("strata", "stratum"), ("psu", "psu")):
        found = col in d.mapping
        note = None if found else f"TODO: no {col} column found in {d.key}; map one or set null"
        lines.append(f"  {attr}: {col}" + _comment(note))
    lines.append("# weighting: add it when data/<ISO>/population.csv holds the margins")
    lines.append("identifiers: []  # columns with personal data in every instrument")
    lines.append("instruments:")
    lines += instrument_yaml(d)
    return "\n".join(lines) + "\n"


def _replace_flow(text: str, key: str, values: list[int | str]) -> str:
    return re.sub(
        rf"^{key}: \[[^\]\n]*\]", f"{key}: {_flow(values)}", text, count=1, flags=re.MULTILINE
    )


def init_cycle(
    project: Project,
    iso: str,
    cycle: int | str,
    form: str | Path,
    export: str | Path,
    instrument: str | None = None,
    population: str | None = None,
    force: bool = False,
) -> tuple[Path, InstrumentDraft]:
    """Write (or extend) data/<ISO>/<cycle>/cycle.yml with a draft; returns (path, draft).

    No cycle.yml: a new draft. An existing draft (one init-cycle wrote) without this
    instrument: the instrument is appended and the languages and goals are merged. Anything
    else (a reviewed cycle.yml, or the instrument already there) is refused unless `force`,
    which writes a fresh draft of this instrument alone. The raw files are only read.
    """
    cdir = project.cycle_dir(iso, cycle)
    path = cdir / "cycle.yml"
    d = draft_instrument(project, iso, cycle, form, export, instrument, population)
    if path.exists() and not force:
        text = path.read_text(encoding="utf-8")
        existing = yaml.safe_load(text) or {}
        if not text.startswith(DRAFT_MARK):
            raise ConfigError(
                "already exists and is not an init-cycle draft; it is not overwritten.",
                path=path,
                hint="Add the instrument by hand, or give --force to replace it with a new draft.",
            )
        if d.key in (existing.get("instruments") or {}):
            raise ConfigError(
                f"already has an instrument '{d.key}'.",
                path=path,
                field=f"instruments.{d.key}",
                hint="Give another --instrument name, or --force to start a new draft.",
            )
        langs = list(dict.fromkeys([*existing.get("languages", []), *d.languages]))
        goals = sorted({*existing.get("sdgs", []), *d.sdgs}) if d.sdgs else existing["sdgs"]
        text = _replace_flow(_replace_flow(text, "languages", langs), "sdgs", goals)
        out = text.rstrip("\n") + "\n" + "\n".join(instrument_yaml(d)) + "\n"
    else:
        out = cycle_yaml(project, iso, cycle, d)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(out, encoding="utf-8")
    tmp.replace(path)
    return path, d
