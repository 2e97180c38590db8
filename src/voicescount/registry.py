"""The registry: countries, cycles, indicators, dimensions and rules, as validated data.

Analysts re-run the report for a new country or cycle by adding YAML under `data/`, never by
editing code, so every YAML file is checked on load against a pydantic model, and a mismatch
is reported as a `ConfigError` naming the file, the entry (row) and the field.

Layout (relative to the project's data directory):

    countries.yml                   the country registry
    indicators.yml                  the indicator catalogue (all countries)
    dimensions.yml                  LNOB dimensions, their codes and labels, intersections
    rules.yml                       reliability and disclosure rules
    <ISO>/population.csv            population margins for raking
    <ISO>/<cycle>/cycle.yml         one survey cycle: instruments, files, mappings, design
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import ConfigError

# A label in one or more languages, keyed by ISO 639-1 code: {en: "North", vi: "Miền Bắc"}.
Labels = dict[str, str]

LANG_RE = re.compile(r"^[a-z]{2,3}$")


class Strict(BaseModel):
    """Base for registry models: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def label(labels: Labels | None, lang: str, fallback: str = "") -> str:
    """Pick a label in `lang`, falling back to English, then to any language, then `fallback`."""
    if not labels:
        return fallback
    return labels.get(lang) or labels.get("en") or next(iter(labels.values()), fallback)


# --------------------------------------------------------------------------- countries


class Region(Strict):
    code: str
    name: Labels
    geocode: str | None = None  # ISO 3166-2 or national code, used by Open SDG GeoCode


class AgeRange(Strict):
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def contains(self, age: float) -> bool:
        return self.min <= age <= self.max


class Country(Strict):
    iso: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")
    name: Labels
    languages: list[str] = Field(min_length=1)
    regions: list[Region] = Field(min_length=1)
    youth: AgeRange
    age_bands: list[int] = Field(
        min_length=1, description="lower bounds of the adult age bands, ascending"
    )
    child_band: AgeRange = AgeRange(min=11, max=15)

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        for code in v:
            if not LANG_RE.match(code):
                raise ValueError(f"'{code}' is not an ISO 639-1 language code such as 'en' or 'vi'")
        return v

    @field_validator("age_bands")
    @classmethod
    def _ascending(cls, v: list[int]) -> list[int]:
        if sorted(set(v)) != v:
            raise ValueError("age_bands must be strictly ascending lower bounds, e.g. [16, 25, 35]")
        return v

    def region_codes(self) -> list[str]:
        return [r.code for r in self.regions]

    def age_band_labels(self) -> list[str]:
        """Band labels such as '16-24', '25-34', '60+' from the lower bounds."""
        b = self.age_bands
        return [f"{lo}-{hi - 1}" for lo, hi in zip(b, b[1:], strict=False)] + [f"{b[-1]}+"]


class CountryRegistry(Strict):
    countries: list[Country] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CountryRegistry:
        seen = set()
        for c in self.countries:
            if c.iso in seen:
                raise ValueError(f"country {c.iso} is listed twice")
            seen.add(c.iso)
        return self

    def get(self, iso: str) -> Country:
        for c in self.countries:
            if c.iso == iso:
                return c
        raise KeyError(iso)


# --------------------------------------------------------------------------- cycles

SourceFormat = Literal[
    "auto", "kobo-xlsx", "kobo-csv", "kobo-json", "odk-csv", "spss", "stata", "csv", "xlsx"
]


class FormSource(Strict):
    """Where `voicescount pull` fetches an instrument's submissions and form from (the server's
    address and token come from the environment or a config file, never from cycle.yml)."""

    server: Literal["kobo", "odk"] = Field(description="KoboToolbox (kobo) or ODK Central (odk)")
    asset: str | None = Field(
        None, min_length=1, description="KoboToolbox asset uid, e.g. aBcD123 (kobo only)"
    )
    project: int | None = Field(None, ge=1, description="ODK Central project id (odk only)")
    form: str | None = Field(None, min_length=1, description="ODK Central xmlFormId (odk only)")

    @model_validator(mode="after")
    def _ids_of_server(self) -> FormSource:
        if self.server == "kobo" and (self.asset is None or self.project or self.form):
            raise ValueError("a kobo source gives `asset` (the asset uid) and no project/form")
        if self.server == "odk" and (self.project is None or self.form is None or self.asset):
            raise ValueError("an odk source gives `project` (id) and `form` (xmlFormId), no asset")
        return self


class Instrument(Strict):
    """One questionnaire of a cycle, its raw export and how it maps onto the data contract."""

    label: Labels
    population: Literal["adults", "cso", "children"] = Field(
        description="which respondents it covers: adults (youth, women, people with "
        "disabilities), civil society organisations, or children 11-15"
    )
    form: str | None = Field(None, description="XLSForm (the codebook), relative to the cycle")
    data: str = Field(description="the raw export, relative to the cycle folder")
    format: SourceFormat = "auto"
    sheet: str | None = None
    encoding: str | None = None
    values: Literal["xml", "labels"] = "xml"
    mapping: dict[str, str] = Field(
        default_factory=dict, description="contract column -> column in the export"
    )
    codes: dict[str, dict[str, str | int | float | bool | None]] = Field(
        default_factory=dict, description="contract column -> {export code: contract code}"
    )
    identifiers: list[str] = Field(
        default_factory=list, description="export columns holding personal data, removed at intake"
    )
    min_duration_minutes: float | None = Field(None, ge=0)
    max_duration_minutes: float | None = Field(None, ge=0)
    source: FormSource | None = Field(
        None, description="the KoboToolbox or ODK Central form `voicescount pull` fetches"
    )


class Replication(Strict):
    """Replicate weights (R's `svrepdesign` / `as.svrepdesign`); variances by `svrVar`."""

    type: Literal["JK1", "JKn", "BRR", "Fay", "bootstrap"] = Field(
        description="replication method, as R's svrepdesign(type = )"
    )
    columns: str | None = Field(
        None,
        description="glob of the export's replicate weight columns (full weights, e.g. rw_*); "
        "omitted: created from the design's PSUs (JK1, JKn only)",
    )
    rho: float | None = Field(None, gt=0, lt=1, description="Fay's rho (type Fay only)")
    scale: float | None = Field(
        None,
        gt=0,
        description="overall scale; default R's: JK1 (R-1)/R, BRR 1/R, Fay "
        "1/(R (1-rho)^2), bootstrap 1/(R-1), JKn 1",
    )
    rscales: list[float] | None = Field(
        None, description="per-replicate scales, e.g. (n_h - 1) / n_h for given JKn columns"
    )
    mse: bool = Field(False, description="centre the replicates on the full-sample estimate")

    @model_validator(mode="after")
    def _complete(self) -> Replication:
        if self.type == "Fay" and self.rho is None:
            raise ValueError("type Fay needs rho (e.g. 0.5)")
        if self.columns is None and self.type not in ("JK1", "JKn"):
            raise ValueError(
                f"{self.type} replicates need `columns` (only JK1 and JKn are "
                "created from the design)"
            )
        if self.type == "JKn" and self.columns is not None and self.rscales is None:
            raise ValueError("JKn replicate columns need their rscales")
        return self


class DesignSpec(Strict):
    """Survey design variables, by their contract names."""

    weight: str | None = "weight"
    strata: str | None = "stratum"
    psu: str | None = "psu"
    fpc: str | None = Field(
        None, description="first-stage fpc: sampling fraction of PSUs or population PSUs"
    )
    ssu: str | None = Field(
        None, description="second-stage cluster column (two-stage design, nested in the PSU)"
    )
    fpc2: str | None = Field(
        None,
        description="second-stage fpc: sampling fraction of SSUs in the PSU or their "
        "population number; with `fpc`, variances are R's full multistage ones",
    )
    replicates: Replication | None = Field(
        None, description="replicate weights instead of the strata/PSU linearisation"
    )

    @model_validator(mode="after")
    def _stages(self) -> DesignSpec:
        if self.fpc2 and not self.ssu:
            raise ValueError("fpc2 needs ssu (the second-stage clusters)")
        if self.replicates and (self.ssu or self.fpc2):
            raise ValueError("a replicate design has no ssu/fpc2 (the replicates carry it)")
        return self


class Trim(Strict):
    """Weight trimming bounds, as multiples of the mean final weight (so one setting suits
    countries of any population size); the trimmed weight is spread over the others."""

    lower: float | None = Field(None, gt=0, le=1, description="lowest weight / mean weight")
    upper: float | None = Field(None, ge=1, description="highest weight / mean weight")


class NonResponse(Strict):
    classes: list[str] = Field(
        min_length=1,
        description="contract columns forming the weighting classes; respondents who refused "
        "consent are the non-respondents whose weight the class's respondents carry",
    )


class Weighting(Strict):
    """Calibration of one instrument's design weights to data/<ISO>/population.csv."""

    instrument: str = Field(description="instrument key whose weights are raked")
    margins: list[str] = Field(
        min_length=1, description="population.csv dimensions to rake to, e.g. sex, age_group"
    )
    keep_sample_share: dict[str, list[str]] = Field(
        default_factory=dict,
        description="categories with no population margin, e.g. {sex: [intersex]}: they keep "
        "their weighted sample share and the dimension's other margins shrink to make room",
    )
    nonresponse: NonResponse | None = Field(None, description="non-response adjustment first")
    trim: Trim | None = Field(None, description="trimming bounds (relative to the mean)")
    max_iter: int = Field(100, ge=1, le=10000, description="raking sweeps at most")
    tolerance: float = Field(
        1e-8, gt=0, le=0.01, description="raking stops when every margin is this close (relative)"
    )
    method: Literal["rake", "poststratify", "linear", "raking"] = Field(
        "rake",
        description="rake: iterative proportional fitting (R's rake()); poststratify: to the "
        "cells of one margin (postStratify()); linear / raking: R's calibrate(calfun = ) on "
        "the margins' main effects, with `bounds`; each with its own variance",
    )
    bounds: tuple[float, float] | None = Field(
        None, description="[lower, upper] on calibrated / starting weight (linear, raking)"
    )

    @model_validator(mode="after")
    def _method(self) -> Weighting:
        if self.method != "rake" and (self.trim or self.keep_sample_share):
            raise ValueError(f"trim and keep_sample_share apply to method rake, not {self.method}")
        if self.method == "poststratify" and len(self.margins) != 1:
            raise ValueError("poststratify takes one margin (its categories are the cells)")
        if self.bounds is not None and (
            self.method not in ("linear", "raking") or not self.bounds[0] < 1 < self.bounds[1]
        ):
            raise ValueError("bounds are for linear/raking and must be [lower < 1, upper > 1]")
        return self


class Fieldwork(Strict):
    start: str
    end: str


# Stages of the data value chain at which the Copenhagen Framework on Citizen Data asks how
# the communities took part (the CGD quality statement reports each, or "not declared").
PARTICIPATION_STAGES = ("design", "collection", "analysis", "dissemination", "use")


class CitizenData(Strict):
    """Who produced the cycle's citizen data and how the communities took part: what the CGD
    quality statement (voicescount.quality) needs beyond the data; every field optional."""

    initiated_by: list[str] = Field(
        default_factory=list, description="organisations or groups who initiated the data"
    )
    designed_by: list[str] = Field(
        default_factory=list, description="who designed the questionnaires and the sample"
    )
    collected_by: list[str] = Field(
        default_factory=list, description="who collected the data (e.g. trained community members)"
    )
    analysed_by: list[str] = Field(
        default_factory=list, description="who analysed and validated the results"
    )
    participation: dict[Literal[PARTICIPATION_STAGES], str] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="how the communities took part at each stage (design, collection, "
        "analysis, dissemination, use), in a sentence each",
    )
    consent: str | None = Field(
        None, description="how informed consent was asked and recorded (the consent question)"
    )


class Cycle(Strict):
    country: str = Field(pattern=r"^[A-Z]{2}$")
    cycle: int = Field(ge=2000, le=2100)
    title: Labels | None = None
    synthetic: bool = Field(False, description="True for generated example data; shown on pages")
    languages: list[str] = Field(min_length=1)
    sdgs: list[int] = Field(min_length=1)
    fieldwork: Fieldwork | None = None
    instruments: dict[str, Instrument] = Field(min_length=1)
    design: DesignSpec = DesignSpec()
    weighting: Weighting | None = Field(
        None, description="raking to population margins; design weights only when omitted"
    )
    identifiers: list[str] = Field(
        default_factory=list, description="export columns with personal data, in every instrument"
    )
    qualitative: str | None = None
    activities: str | None = None
    scorecards: str | None = None
    recommendations: str | None = None
    citizen_data: CitizenData | None = Field(
        None,
        description="who initiated, designed, collected and analysed the data, and how "
        "the communities took part (the CGD quality statement; 'not declared' when omitted)",
    )
    shared_folders: list[str] = Field(
        default_factory=list,
        description="folders outside this cycle's folder that its inputs may come from "
        "(relative to the cycle folder, e.g. ../shared), each inside data/; every other "
        "input path must stay inside data/<ISO>/<cycle>/",
    )

    @field_validator("sdgs")
    @classmethod
    def _goals(cls, v: list[int]) -> list[int]:
        for g in v:
            if not 1 <= g <= 17:
                raise ValueError(f"SDG {g} does not exist; goals are numbered 1 to 17")
        return v

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        return Country._langs(v)

    @model_validator(mode="after")
    def _design_and_weighting(self) -> Cycle:
        """Combinations whose variance voicescount does not compute (they would be wrong)."""
        w = self.weighting
        if w is not None and self.design.replicates is not None:
            raise ValueError(
                "design.replicates with weighting: the replicate columns must already carry the "
                "calibration (each replicate calibrated as the full weights); drop `weighting`"
            )
        if w is not None and w.method == "rake" and self.design.ssu:
            raise ValueError(
                "a two-stage design (design.ssu) is calibrated with weighting.method linear, "
                "raking or poststratify, not rake"
            )
        return self

    @property
    def key(self) -> str:
        return f"{self.country}/{self.cycle}"


# --------------------------------------------------------------------------- indicators


class Rule(Strict):
    """How one respondent's answers make the indicator 1, 0 or missing.

    Exactly one of: `item` with a condition (`in`, `equals`, `at_least`, `at_most`), `any`
    (1 if any sub-rule holds), `all` (1 if all hold). For means, `item` alone gives its value.
    """

    item: str | None = None
    in_: list[Any] | None = Field(None, alias="in")
    equals: Any = None
    at_least: float | None = None
    at_most: float | None = None
    any: list[Rule] | None = None
    all: list[Rule] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_form(self) -> Rule:
        forms = [self.item is not None, self.any is not None, self.all is not None]
        if sum(forms) != 1:
            raise ValueError("a rule needs exactly one of 'item', 'any' or 'all'")
        return self

    def items(self) -> set[str]:
        if self.item is not None:
            return {self.item}
        out: set[str] = set()
        for sub in (self.any or []) + (self.all or []):
            out |= sub.items()
        return out


class SdgCode(Strict):
    goal: int = Field(ge=1, le=17)
    target: str = Field(pattern=r"^\d{1,2}\.[0-9a-z]{1,2}$")
    indicator: str | None = Field(
        None, pattern=r"^\d{1,2}\.[0-9a-z]{1,2}\.\d{1,2}$", description="official code, e.g. 1.2.1"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SdgCode:
        if not self.target.startswith(f"{self.goal}."):
            raise ValueError(f"target {self.target} is not under goal {self.goal}")
        if self.indicator and not self.indicator.startswith(f"{self.target}."):
            raise ValueError(f"indicator {self.indicator} is not under target {self.target}")
        return self


class OfficialLink(Strict):
    """The official series this indicator is set beside (UN SDG database / Open SDG)."""

    indicator: str
    series: str | None = None
    unit: str | None = None
    note: Labels | None = None


class Indicator(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    sdg: SdgCode
    instrument: str = Field(description="instrument key in cycle.yml whose items it uses")
    kind: Literal["proportion", "mean", "total", "ratio", "quantile", "median"] = "proportion"
    rule: Rule
    population: Rule | None = Field(
        None, description="who is in the denominator; everyone in the instrument if omitted"
    )
    denominator: Rule | None = Field(
        None,
        validate_default=True,
        description="kind ratio: the per-respondent value the rule's value is divided by "
        "(estimate: sum w rule / sum w denominator, as R's svyratio)",
    )
    quantile: float | None = Field(
        None,
        validate_default=True,
        description="kind quantile: which quantile, between 0 and 1 (median: 0.5)",
    )
    label: Labels
    definition: Labels
    unit: Literal["percent", "score", "number"] = Field("percent", validate_default=True)
    higher_is_better: bool = True
    official: OfficialLink | None = None

    @field_validator("denominator")
    @classmethod
    def _denominator(cls, v: Rule | None, info: ValidationInfo) -> Rule | None:
        kind = info.data.get("kind")
        if kind == "ratio" and v is None:
            raise ValueError("kind 'ratio' needs a denominator (a rule giving its value)")
        if kind != "ratio" and v is not None and kind is not None:
            raise ValueError(f"only kind 'ratio' takes a denominator, not kind '{kind}'")
        return v

    @field_validator("quantile")
    @classmethod
    def _quantile(cls, v: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("kind")
        if kind == "quantile" and (v is None or not 0 < v < 1):
            raise ValueError("kind 'quantile' needs quantile: a number between 0 and 1")
        if kind != "quantile" and v is not None and kind is not None:
            raise ValueError(f"only kind 'quantile' takes quantile, not kind '{kind}'")
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str, info: ValidationInfo) -> str:
        if v == "percent" and info.data.get("kind") == "total":
            raise ValueError("a total is a number: give unit 'number'")
        return v

    @property
    def estimator(self) -> tuple[str, float]:
        """(stats.estimate kind, quantile): a median is the 0.5 quantile."""
        if self.kind == "median":
            return "quantile", 0.5
        return self.kind, self.quantile if self.quantile is not None else 0.5


class IndicatorCatalogue(Strict):
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> IndicatorCatalogue:
        seen: set[str] = set()
        for ind in self.indicators:
            if ind.id in seen:
                raise ValueError(f"indicator id '{ind.id}' is used twice")
            seen.add(ind.id)
        return self

    def for_goals(self, goals: Iterable[int]) -> list[Indicator]:
        goals = set(goals)
        return [i for i in self.indicators if i.sdg.goal in goals]

    def get(self, ind_id: str) -> Indicator:
        for i in self.indicators:
            if i.id == ind_id:
                return i
        raise KeyError(ind_id)


# --------------------------------------------------------------------------- dimensions


class Dimension(Strict):
    """An LNOB dimension such as sex or disability: its contract column and code labels.

    `codes` may be empty when the codes come from the country (regions, age bands).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels
    codes: dict[str, Labels] = Field(default_factory=dict)
    populations: list[Literal["adults", "cso", "children"]] = ["adults", "children"]


class DimensionSet(Strict):
    dimensions: list[Dimension] = Field(min_length=1)
    intersections: list[list[str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> DimensionSet:
        ids = {d.id for d in self.dimensions}
        for combo in self.intersections:
            if len(combo) < 2:
                raise ValueError(f"intersection {combo} needs at least two dimensions")
            for d in combo:
                if d not in ids:
                    raise ValueError(f"intersection {combo} names unknown dimension '{d}'")
        return self

    def get(self, dim_id: str) -> Dimension:
        for d in self.dimensions:
            if d.id == dim_id:
                return d
        raise KeyError(dim_id)


# --------------------------------------------------------------------------- rules


class Rules(Strict):
    """Reliability and disclosure rules: one declared set, applied to every published table."""

    caution_min_n: int = Field(30, ge=1, description="n below this: 'use with caution'")
    caution_max_cv: float = Field(0.30, gt=0, description="CV above this: 'use with caution'")
    suppress_min_n: int = Field(5, ge=1, description="cells with n below this are suppressed")
    suppress_min_n_children: int = Field(10, ge=1, description="stricter rule for children")
    min_quote_group: int = Field(
        3, ge=1, description="quotes are shown only for themes raised by at least this many people"
    )
    alpha: float = Field(0.05, gt=0, lt=1)
    multiple_comparisons: Literal["holm", "bonferroni", "fdr_bh"] = "holm"
    publish_decimals: dict[Literal["percent", "score", "number"], int] = Field(
        default_factory=lambda: {"percent": 1, "score": 2, "number": 2},
        description="every output publishes estimates rounded to this many decimals per unit",
    )
    protection: float = Field(
        0.05, gt=0, lt=1, description="a route that pins a hidden cell closer than this discloses"
    )

    @field_validator("publish_decimals")
    @classmethod
    def _decimals(cls, v: dict) -> dict:
        bad = {k: d for k, d in v.items() if not 0 <= d <= 6}
        if bad:
            raise ValueError(f"decimals must be 0 to 6, not {bad}")
        return {"percent": 1, "score": 2, "number": 2} | v


# --------------------------------------------------------------------------- loading


def _friendly_loc(data: Any, loc: tuple) -> tuple[str | None, str | None]:
    """Turn a pydantic error location into (row, field) an analyst can find in the YAML."""
    row = None
    node = data
    field_parts: list[str] = []
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            ident = None
            if 0 <= part < len(node) and isinstance(node[part], dict):
                ident = node[part].get("id") or node[part].get("iso") or node[part].get("code")
            row = f"{part + 1}" + (f" ({ident})" if ident else "")
            field_parts = []
            node = node[part] if 0 <= part < len(node) else None
            continue
        field_parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return row, ".".join(field_parts) or None


def read_yaml(path: Path) -> Any:
    """Read a YAML file, turning a missing file or a syntax error into a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            "file not found.", path=path, hint="Create it, or correct the path that points to it."
        )
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except UnicodeDecodeError:
        raise ConfigError(
            "is not UTF-8 text.", path=path, hint="Save the YAML file as UTF-8."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise ConfigError(
            f"is not valid YAML ({getattr(exc, 'problem', exc)}).",
            path=path,
            row=f"line {row}" if row else None,
            hint="Check the indentation and quoting around that line.",
        ) from None


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, path: Path) -> M:
    """Validate `data` read from `path` as `model`; errors name file, row and field."""
    if data is None:
        raise ConfigError(
            "is empty.", path=path, hint="See the handbook's analyst guide for an example."
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = []  # every problem of the file, so one edit fixes them all
        for err in exc.errors():
            row, field = _friendly_loc(data, tuple(err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "is not a known setting (is it misspelt?)"
            found.append((row, field, msg))
        row, field, msg = found[0]
        extra = ""
        if len(found) > 1:
            extra = f"; and {len(found) - 1} more in this file: " + "; ".join(
                ", ".join(x for x in (f"row {r}" if r else "", f"field '{f}'" if f else "") if x)
                + f": {m}"
                for r, f, m in found[1:]
            )
        raise ConfigError(
            f"{msg}{extra}.",
            path=path,
            row=row,
            field=field,
            hint="Fix these entries and run again." if extra else "Fix this entry and run again.",
        ) from None


def load_model(model: type[M], path: Path) -> M:
    return parse_model(model, read_yaml(path), Path(path))


class Project:
    """A project folder: the book's root, with `data/`, `analyses/`, `report/` under it."""

    def __init__(self, root: str | Path = ".", data_dir: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.data_dir = Path(data_dir).resolve() if data_dir else self.root / "data"
        # cycle.yml state (path, mtime_ns, size) -> its validated Cycle (see `cycle`)
        self._cycle_cache: dict[tuple[str, int, int], Cycle] = {}

    # Each file is read once per Project.
    @cached_property
    def countries(self) -> CountryRegistry:
        return load_model(CountryRegistry, self.data_dir / "countries.yml")

    @cached_property
    def indicators(self) -> IndicatorCatalogue:
        return load_model(IndicatorCatalogue, self.data_dir / "indicators.yml")

    @cached_property
    def dimensions(self) -> DimensionSet:
        return load_model(DimensionSet, self.data_dir / "dimensions.yml")

    @cached_property
    def rules(self) -> Rules:
        path = self.data_dir / "rules.yml"
        return load_model(Rules, path) if path.exists() else Rules()

    def cycle_dir(self, iso: str, cycle: int | str) -> Path:
        return self.data_dir / iso / str(cycle)

    def build_dir(self, iso: str, cycle: int | str) -> Path:
        """Disposable intermediate outputs (clean data, quarantine, logs) for one cycle."""
        return self.root / "build" / iso / str(cycle)

    def report_dir(self, iso: str, cycle: int | str) -> Path:
        """Executed notebooks and published tables for one cycle (output, not source)."""
        return self.root / "report" / iso / str(cycle)

    def country(self, iso: str) -> Country:
        try:
            return self.countries.get(iso)
        except KeyError:
            known = ", ".join(c.iso for c in self.countries.countries)
            raise ConfigError(
                f"country '{iso}' is not in the registry (known: {known}).",
                path=self.data_dir / "countries.yml",
                hint="Add it to countries.yml or choose a listed country.",
            ) from None

    def cycle(self, iso: str, cycle: int | str) -> Cycle:
        """The validated cycle.yml of (iso, cycle), parsed once per Project and file state.

        Every page and the store ask for it many times; the cache is keyed by the file's
        path, mtime_ns and size, so an edited cycle.yml is read and validated again.
        """
        path = self.cycle_dir(iso, cycle) / "cycle.yml"
        try:
            st = path.stat()
            state = (str(path), st.st_mtime_ns, st.st_size)
        except OSError:
            state = None
        if state is not None and state in self._cycle_cache:
            return self._cycle_cache[state]
        cyc = self._read_cycle(iso, cycle, path)
        if state is not None:
            self._cycle_cache[state] = cyc
        return cyc

    def _read_cycle(self, iso: str, cycle: int | str, path: Path) -> Cycle:
        cyc = load_model(Cycle, path)
        if cyc.country != iso or str(cyc.cycle) != str(cycle):
            raise ConfigError(
                f"says country {cyc.country}, cycle {cyc.cycle}, but lives in {iso}/{cycle}/.",
                path=path,
                field="country",
                hint="Move the file to data/<ISO>/<cycle>/ or correct its 'country' and 'cycle'.",
            )
        country = self.country(iso)
        for lang in cyc.languages:
            if lang not in country.languages:
                raise ConfigError(
                    f"language '{lang}' is not one of {country.iso}'s languages "
                    f"({', '.join(country.languages)}).",
                    path=path,
                    field="languages",
                    hint="Add the language to countries.yml or remove it here.",
                )
        allowed = self._input_roots(cyc, path)
        for name, inst in cyc.instruments.items():
            for attr in ("data", "form"):
                rel = getattr(inst, attr)
                if rel:
                    self._inside(path, f"instruments.{name}.{attr}", rel, allowed)
                if rel and not (path.parent / rel).exists():
                    raise ConfigError(
                        f"points to {rel}, which does not exist.",
                        path=path,
                        field=f"instruments.{name}.{attr}",
                        hint="Put the file there or correct the path (relative to cycle.yml).",
                    )
        for attr in ("qualitative", "activities", "scorecards", "recommendations"):
            rel = getattr(cyc, attr)
            if rel:
                self._inside(path, attr, rel, allowed)
            if rel and not (path.parent / rel).exists():
                raise ConfigError(
                    f"points to {rel}, which does not exist.",
                    path=path,
                    field=attr,
                    hint="Put the file there or correct the path (relative to cycle.yml).",
                )
        return cyc

    def _input_roots(self, cyc: Cycle, path: Path) -> list[Path]:
        """The folders a cycle's inputs may live in: its own, and its declared shared ones
        (each inside data/, so a report never rests on files nobody keeps with the data)."""
        roots = [path.parent.resolve()]
        data = self.data_dir.resolve()
        for i, rel in enumerate(cyc.shared_folders):
            folder = (path.parent / rel).resolve()
            if not folder.is_relative_to(data) or not folder.is_dir():
                raise ConfigError(
                    f"declares the shared folder '{rel}', which "
                    + ("is not a folder inside data/." if folder.is_dir() else "does not exist."),
                    path=path,
                    field=f"shared_folders[{i}]",
                    hint="Give a folder inside data/, relative to the cycle folder "
                    "(e.g. ../shared for data/<ISO>/shared), or remove the entry.",
                )
            roots.append(folder)
        return roots

    @staticmethod
    def _inside(path: Path, key: str, rel: str, roots: list[Path]) -> None:
        """Refuse an input path that leaves the cycle folder (absolute, `..`, a symlink out)."""
        target = (path.parent / rel).resolve()
        if any(target.is_relative_to(r) for r in roots):
            return
        where = "a symbolic link out of" if (path.parent / rel).is_symlink() else "outside"
        raise ConfigError(
            f"points to {rel}, which is {where} the cycle folder ({target}).",
            path=path,
            field=key,
            hint="Copy the file into the cycle folder (data/<ISO>/<cycle>/, e.g. exports/ or "
            "forms/) and give its path relative to cycle.yml, or declare the folder it is in "
            "under `shared_folders` (a folder inside data/).",
        )

    def cycles(self, iso: str | None = None) -> list[tuple[str, int]]:
        """All (ISO, cycle) pairs with a cycle.yml, sorted; only registered countries."""
        isos = [iso] if iso else [c.iso for c in self.countries.countries]
        out = []
        for code in isos:
            base = self.data_dir / code
            if not base.is_dir():
                continue
            for sub in sorted(base.iterdir()):
                if sub.is_dir() and sub.name.isdigit() and (sub / "cycle.yml").is_file():
                    out.append((code, int(sub.name)))
        return out

    def cycle_inputs(self, iso: str, cycle: int | str) -> list[Path]:
        """Every file a cycle's notebooks read: registry files, cycle.yml and what it points to."""
        cdir = self.cycle_dir(iso, cycle)
        files = [
            self.data_dir / n
            for n in ("countries.yml", "indicators.yml", "dimensions.yml", "rules.yml")
        ]
        files += sorted(p for p in cdir.rglob("*") if p.is_file())
        try:
            shared = self.cycle(iso, cycle).shared_folders  # checked inside data/ by `cycle`
        except ConfigError:
            shared = []  # a broken cycle.yml is reported where it is read, not here
        for rel in shared:
            files += sorted(p for p in (cdir / rel).resolve().rglob("*") if p.is_file())
        pop = self.data_dir / iso / "population.csv"
        if pop.exists():
            files.append(pop)
        official = self.data_dir / "official" / iso
        if official.is_dir():
            files += sorted(p for p in official.rglob("*") if p.is_file())
        return [f for f in files if f.exists()]
