"""One visual language for every chart in the report, and charts that can be read without sight.

Why these choices:
- Colours are the Okabe-Ito palette (distinguishable with every common colour-vision
  deficiency), and no meaning is carried by colour alone: caution is a hollow marker,
  suppression is a marked row or a hatched cell, significance is a symbol.
- Figures are at most 6.4 in wide with text of 9 pt or more and wrapped labels, so they stay
  legible when a phone shrinks them to the screen width.
- Text is DejaVu Sans (ships with matplotlib, complete Vietnamese diacritics), with Noto Sans
  Bengali / Lohit Bengali as fallbacks for Bengali when installed (Debian `fonts-noto-core` or
  `fonts-lohit-beng-bengali`). Matplotlib places glyphs without complex-script shaping, so
  Bengali conjuncts inside a figure may be imperfect; titles, alt text and the table
  alternative are also given as HTML, which the browser shapes correctly.
- Every chart is a `Chart`: the figure, alt text written from the data in the chart's language,
  and the table alternative. `Chart.save` writes byte-identical SVG for identical inputs
  (fixed `svg.hashsalt`, no date or creator metadata) and a formula-safe CSV.

Input to the estimate charts is the tidy table of `stats.estimate` + `disclosure.apply`:
variable, grouping ('sex×region'; '' is the overall row), one column per dimension, estimate
(0-1 for proportions), se, ci_low, ci_high, deff, n, N, cv, flag ('caution'|''), suppressed,
suppression ('primary'|'secondary'|'').
"""

from __future__ import annotations

import base64
import io
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FuncFormatter

from .errors import InputError
from .i18n import code_label, dim_label, fmt_number, fmt_percent, split_dims, t
from .registry import Country, DimensionSet, label
from .render import render_html

# --------------------------------------------------------------------------- style

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# Series order: strongest contrasts first; yellow last (weak on white).
PALETTE = [
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "reddish_purple",
        "sky_blue",
        "black",
        "yellow",
    )
]
GREY = "#8C8C8C"
LIGHT_GREY = "#E6E6E6"
FONT_FAMILY = ["DejaVu Sans", "Noto Sans Bengali", "Lohit Bengali"]
MAX_WIDTH_IN = 6.4
FONT_PT = 10.0
MIN_FONT_PT = 9.0
WRAP = 28  # characters per label line at phone width
SVG_SALT = "voicescount"
SIGNIFICANT = "*"
# Orange (worse off) - white - blue (better off): the Okabe-Ito pair that survives all CVDs.
GAP_CMAP = LinearSegmentedColormap.from_list(
    "voicescount_gap", [OKABE_ITO["orange"], "#FFFFFF", OKABE_ITO["blue"]]
)

STYLE: dict[str, object] = {
    "font.family": FONT_FAMILY,  # concrete names: matplotlib falls back only along these
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT + 1,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "figure.titlesize": FONT_PT + 1,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "svg.hashsalt": SVG_SALT,
    "svg.fonttype": "path",  # glyphs as paths: diacritics render without the reader's fonts
    "svg.image_inline": True,
    "hatch.color": GREY,
    "figure.dpi": 100,
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def style() -> mpl.rc_context:
    """The report's rcParams as a context manager (charts never change global state).

    Only installed fonts are listed, so a missing optional font logs nothing.
    """
    return mpl.rc_context({**STYLE, "font.family": _installed_families()})


@cache
def _installed_families() -> tuple[str, ...]:
    found = []
    for family in FONT_FAMILY:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        found.append(family)
    return tuple(found) or ("DejaVu Sans",)


def available_fonts() -> list[Path]:
    """Font files matplotlib will use for FONT_FAMILY, in fallback order (installed ones only)."""
    out: list[Path] = []
    for family in _installed_families():
        path = Path(font_manager.findfont(font_manager.FontProperties(family=family)))
        if path not in out:
            out.append(path)
    return out


def missing_glyphs(text: str) -> list[str]:
    """Characters of `text` that no report font can draw (they would show as empty boxes)."""
    fonts = [FT2Font(str(p)) for p in available_fonts()]
    return sorted(
        {
            ch
            for ch in text
            if not ch.isspace() and not any(f.get_char_index(ord(ch)) for f in fonts)
        }
    )


def wrap(text: str, width: int = WRAP) -> str:
    """Wrap a label onto lines of at most `width` characters (phone-width figures)."""
    return "\n".join(textwrap.wrap(str(text), width, break_long_words=False)) or str(text)


def _figure(height: float) -> Figure:
    # Figure() rather than pyplot: nothing is registered globally, so notebooks display a
    # chart once, through show(), with its alt text.
    return Figure(figsize=(MAX_WIDTH_IN, max(2.2, min(height, 9.0))), layout="constrained")


def formula_safe(value: object) -> object:
    """Prefix ' to text a spreadsheet would run as a formula (=, +, -, @, tab, CR)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# --------------------------------------------------------------------------- Chart


@dataclass
class Chart:
    """A chart with everything a page needs to make it accessible.

    `table` is the table alternative: labelled rows, numbers rounded as displayed (in the
    CSV they stay machine-readable: '.' decimal, no thousands separator). `decimals` maps
    numeric columns to the decimals used when the table is shown in the report's language.
    """

    fig: Figure
    alt: str
    table: pd.DataFrame
    title: str
    lang: str
    decimals: dict[str, int] = field(default_factory=dict)

    def svg_bytes(self) -> bytes:
        """The figure as SVG, identical bytes for identical inputs."""
        buf = io.BytesIO()
        with style():
            self.fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        return buf.getvalue()

    def csv_text(self) -> str:
        safe = self.table.map(formula_safe)
        return safe.to_csv(index=False, lineterminator="\n")

    def save(self, out_dir: str | Path, name: str) -> tuple[Path, Path]:
        """Write `figures/<name>.svg` and `tables/<name>.csv` under `out_dir` (the chapter's
        folder, report/<ISO>/<cycle>/<lang>/), so the page can link `tables/<name>.csv`."""
        if not _NAME_RE.match(name):
            raise ValueError(f"chart name '{name}' must be letters, digits, '_', '-' or '.'")
        out = Path(out_dir)
        svg_path = out / "figures" / f"{name}.svg"
        csv_path = out / "tables" / f"{name}.csv"
        svg_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        svg_path.write_bytes(self.svg_bytes())
        # utf-8-sig: Excel, which many partners use, otherwise garbles Vietnamese and Bengali.
        csv_path.write_text(self.csv_text(), encoding="utf-8-sig", newline="")
        return svg_path, csv_path

    def display_table(self) -> pd.DataFrame:
        """The table alternative with numbers written for the report's language."""
        out = self.table.copy()
        for col in out.columns:
            if col in self.decimals:
                d = self.decimals[col]
                out[col] = [
                    "" if pd.isna(v) else fmt_number(v, self.lang, d) for v in self.table[col]
                ]
            else:
                out[col] = ["" if pd.isna(v) else str(v) for v in self.table[col]]
        return out

    def html(self, name: str, svg: bytes | None = None) -> str:
        """<figure> with the image, alt text, caption, CSV link and table alternative.

        The image links `figures/<name>.svg`, the file `save` wrote beside the page (the book
        build copies it next to the built page, like `tables/<name>.csv`), so a page with many
        charts stays small. Given `svg` bytes, it embeds them as a data URI instead: a
        self-contained fallback for a notebook opened away from its output folder.
        """
        if svg is None:
            src = f"figures/{name}.svg"
        else:
            src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
        shown = self.display_table()
        return render_html(
            "chart.html.j2",
            name=name,
            src=src,
            alt=self.alt,
            title=self.title,
            lang=self.lang,
            columns=[str(c) for c in shown.columns],
            rows=list(shown.itertuples(index=False)),
        )


def show(chart: Chart, out_dir: str | Path, name: str, inline: bool = False):
    """Save the chart's SVG and CSV and display it in a notebook as accessible HTML.

    The HTML links `figures/<name>.svg` relative to the notebook, so `out_dir` should be the
    notebook's folder (the runner's working directory; '.' in plain Jupyter). `inline=True`
    embeds the SVG instead, for a notebook whose `out_dir` is elsewhere.
    """
    from IPython.display import HTML

    svg_path, _ = chart.save(out_dir, name)
    return HTML(chart.html(name, svg_path.read_bytes() if inline else None))


# --------------------------------------------------------------------------- helpers

ESTIMATE_COLUMNS = ("variable", "grouping", "estimate", "ci_low", "ci_high", "n")


def _check_columns(df: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(
            f"the {what} table lacks column(s) {', '.join(missing)}.",
            field=missing[0],
            hint="Pass the tidy table from stats.estimate + disclosure.apply.",
        )


def _flags(df: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(caution, suppressed, why) aligned with df: two booleans and, for a cell without a
    value, why it has none ('primary', 'secondary' or 'empty': nobody in the group answered;
    '' for a shown cell), so charts never call a group of 900 "fewer than 5 respondents"."""
    # On numpy arrays: a page flags every panel's rows, and a chain of pandas Series
    # operations per column cost more than the rest of the table work.
    k = len(df)

    def col(name: str) -> np.ndarray:
        return df[name].to_numpy(object) if name in df else np.full(k, None, object)

    caution = np.array([isinstance(v, str) and v == "caution" for v in col("flag")], bool)
    suppressed = np.array([False if pd.isna(v) else bool(v) for v in col("suppressed")], bool)
    suppressed |= pd.isna(df["estimate"].to_numpy())
    secondary = np.array(
        [isinstance(v, str) and v == "secondary" for v in col("suppression")], bool
    )
    n = pd.to_numeric(df["n"], errors="coerce") if "n" in df else pd.Series(np.nan, index=df.index)
    empty = n.to_numpy(float, na_value=np.nan) == 0
    why = np.where(secondary, "secondary", np.where(empty, "empty", "primary"))
    caution, suppressed = pd.Series(caution, index=df.index), pd.Series(suppressed, index=df.index)
    return caution, suppressed, pd.Series(np.where(suppressed, why, ""), index=df.index)


def _group_codes(df: pd.DataFrame, grouping: str) -> list[str]:
    if grouping == "":
        return [""] * len(df)
    dims = split_dims(grouping)
    _check_columns(df, dims, "estimate")
    cols = [df[d].tolist() for d in dims]
    return ["|".join(map(str, row)) for row in zip(*cols, strict=True)]


def _scale(unit: str) -> float:
    return 100.0 if unit == "percent" else 1.0


def _fmt_value(x: float, unit: str, lang: str, decimals: int) -> str:
    if unit == "percent":
        return fmt_percent(x, lang, decimals)
    return fmt_number(x, lang, decimals)


def _axis_formatter(lang: str, decimals: int = 0) -> FuncFormatter:
    return FuncFormatter(lambda x, _pos: fmt_number(x, lang, decimals))


def _round(x: object, decimals: int) -> float:
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return float("nan")
    return round(float(x), decimals)


def _join(items: Sequence[str]) -> str:
    return "; ".join(items)


def _empty_chart(title: str, lang: str, columns: list[str]) -> Chart:
    fig = _figure(2.2)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, t("alt.no_data", lang), ha="center", va="center")
    return Chart(
        fig, f"{title}. {t('alt.no_data', lang)}", pd.DataFrame(columns=columns), title, lang
    )


# --------------------------------------------------------------------------- dot and whisker

# Small multiples, in inches: a group's row and one more line of a wrapped label (rows are
# alike within a panel, and across panels with one-line labels), a line of text at 10-11 pt,
# the space between panels and around the figure's edges.
PANEL_ROW_IN = 0.32
PANEL_LINE_IN = 0.16
TEXT_LINE_IN = 0.19
PANEL_GAP_IN = 0.15
EDGE_IN = 0.1


def _suppressed_note(why: str, lang: str, suppress_n: int) -> str:
    """Why a cell has no value: too few respondents, hidden to protect a small group, or
    nobody in the group answered (`why` from `_flags`)."""
    if why == "secondary":
        return t("legend.suppressed_secondary", lang)
    if why == "empty":
        return t("legend.no_respondents", lang)
    return t("legend.suppressed", lang, n=suppress_n)


def _note(suppressed: bool, why: str, caution: bool, lang: str, suppress_n: int) -> str:
    """The table alternative's note for one cell."""
    if suppressed:
        return _suppressed_note(why, lang, suppress_n)
    return t("legend.caution", lang) if caution else ""


def _shown(values: Sequence[float], suppressed: Sequence[bool], s: float, decimals: int) -> list:
    """Values as plotted (scaled, rounded as displayed); a suppressed cell has none."""
    return [
        float("nan") if sp else _round(v * s, decimals)
        for v, sp in zip(values, suppressed, strict=True)
    ]


def _flag_parts(
    caution: Sequence[str],
    suppressed: Sequence[str],
    lang: str,
    suppress_n: int,
    why: Sequence[str] | None = None,
) -> list[str]:
    """Alt-text sentences naming caution-flagged and suppressed groups (none if empty);
    `why` (parallel to `suppressed`, from `_flags`) says which sentence names each group."""
    parts = []
    if caution:
        parts.append(t("alt.caution", lang, groups=_join(caution)))
    reasons = list(why) if why is not None else ["primary"] * len(suppressed)
    for reason, key in (("primary", "alt.suppressed"), ("secondary", "alt.suppressed_secondary"),
                        ("empty", "alt.no_respondents")):  # fmt: skip
        names = [g for g, r in zip(suppressed, reasons, strict=True) if r == reason]
        if names:
            parts.append(t(key, lang, n=suppress_n, groups=_join(names)))
    return parts


def _dot_columns(lang: str, unit: str) -> list[str]:
    return [
        t("table.group", lang),
        t("table.estimate_pct", lang) if unit == "percent" else t("table.estimate", lang),
        t("table.ci_low", lang),
        t("table.ci_high", lang),
        t("table.n", lang),
        t("table.note", lang),
    ]


_DOT_COLUMNS = {*ESTIMATE_COLUMNS, "flag", "suppressed", "suppression"}


def _dot_rows(
    est: pd.DataFrame,
    variable: str,
    grouping: str,
    dimensions: DimensionSet,
    country: Country | None,
    lang: str,
) -> pd.DataFrame:
    """One grouping's rows of `variable`, labelled and flagged, top to bottom as a dot chart
    shows them: estimates high to low (ties by label), then suppressed groups by label."""
    # Only the columns a dot chart reads: the cycle table has dozens, and copying them
    # through every filter and sort was a third of building a faceted chart.
    dims = split_dims(grouping)
    keep = [c for c in est.columns if c in _DOT_COLUMNS or c in dims]
    mask = (est["variable"].to_numpy() == variable) & (est["grouping"].to_numpy() == grouping)
    rows = est.loc[mask, keep]
    if rows.empty:
        return rows.copy()
    labels = [
        code_label(dimensions, country, grouping, c, lang) for c in _group_codes(rows, grouping)
    ]
    caution, suppressed, why = (x.to_numpy() for x in _flags(rows))
    # One stable sort (Python's, on the rows' keys; a page sorts dozens of small tables):
    # shown rows first, estimates high to low and ties by label, then suppressed by label.
    key = np.where(suppressed, 0.0, -rows["estimate"].to_numpy(float)).tolist()
    sup = suppressed.tolist()
    order = sorted(range(len(labels)), key=lambda i: (sup[i], key[i], labels[i]))
    return rows.iloc[order].assign(
        _label=[labels[i] for i in order], _caution=caution[order],
        _suppressed=suppressed[order], _why=why[order],
    )  # fmt: skip


def _overall(est: pd.DataFrame, variable: str, lang: str) -> tuple[pd.DataFrame, float | None]:
    """The overall row of `variable`, labelled and flagged like `_dot_rows`, and its estimate;
    (empty, None) when it is missing or suppressed (then no dashed line is drawn)."""
    rows = est[(est["variable"] == variable) & (est["grouping"] == "")].head(1).copy()
    if not rows.empty:
        rows["_label"] = t("group.overall", lang)
        rows["_caution"], rows["_suppressed"], rows["_why"] = _flags(rows)
        rows = rows[~rows["_suppressed"]]
    return rows, (None if rows.empty else float(rows["estimate"].iloc[0]))


def _dot_table(
    ordered: pd.DataFrame, cols: Sequence[str], unit: str, decimals: int, lang: str,
    suppress_n: int,
) -> pd.DataFrame:  # fmt: skip
    """The table alternative of a dot chart's rows: the plotted numbers rounded as shown.

    A suppressed row keeps its label and note but no value and no n (a small n discloses too).
    """
    s, sup = _scale(unit), ordered["_suppressed"].tolist()
    notes = zip(sup, ordered["_why"], ordered["_caution"], strict=True)
    return pd.DataFrame(
        {
            cols[0]: ordered["_label"].tolist(),
            cols[1]: _shown(ordered["estimate"], sup, s, decimals),
            cols[2]: _shown(ordered["ci_low"], sup, s, decimals),
            cols[3]: _shown(ordered["ci_high"], sup, s, decimals),
            cols[4]: pd.array(
                [pd.NA if sp else int(n) for n, sp in zip(ordered["n"], sup, strict=True)],
                dtype="Int64",
            ),
            cols[5]: [_note(sp, sec, cau, lang, suppress_n) for sp, sec, cau in notes],
        }
    )


def _draw_dots(
    ax, ordered: pd.DataFrame, overall: float | None, unit: str, lang: str, suppress_n: int
) -> None:
    """Whiskers and dots (hollow when caution) top to bottom, a marked row without a value
    for each suppressed group (hiding it would hide that the group was asked), the dashed
    overall line and the group labels."""
    s = _scale(unit)
    k = len(ordered)
    ys = np.arange(k)[::-1]
    colour = OKABE_ITO["blue"]
    hidden = ordered["_suppressed"].to_numpy(bool)
    for y, why in zip(ys[hidden], ordered["_why"][hidden], strict=True):
        ax.text(
            0.01, y, _suppressed_note(why, lang, suppress_n),
            transform=ax.get_yaxis_transform(), va="center", color=GREY, style="italic",
            fontsize=MIN_FONT_PT, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )  # fmt: skip
    # One line for all whiskers (NaN breaks it between rows) and one per dot face: a line per
    # row made a chart's build and save scale with its rows (each Line2D copies its marker).
    # Rows never overlap, so drawing every whisker before every dot looks the same.
    shown = ~hidden
    y, est = ys[shown].astype(float), ordered["estimate"].to_numpy(float)[shown] * s
    lo, hi = (
        ordered["ci_low"].to_numpy(float)[shown] * s,
        ordered["ci_high"].to_numpy(float)[shown] * s,
    )
    if len(y):
        gap = np.full_like(y, np.nan)
        ax.plot(np.column_stack([lo, hi, gap]).ravel(), np.column_stack([y, y, gap]).ravel(),
                color=colour, lw=1.6)  # fmt: skip
    caution = ordered["_caution"].to_numpy(bool)[shown]
    for sel, face in ((~caution, colour), (caution, "white")):
        if sel.any():
            ax.plot(est[sel], y[sel], marker="o", ms=7, mfc=face, mec=colour, mew=1.6, ls="")
    if overall is not None:
        ax.axvline(overall * s, color=OKABE_ITO["black"], ls="--", lw=1)
    ax.set_yticks(ys, [wrap(lbl) for lbl in ordered["_label"]])
    ax.set_ylim(-0.6, k - 0.4)
    if unit == "percent":
        ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(_axis_formatter(lang))


def _dot_legend(
    fig: Figure, caution: bool, overall: float | None, unit: str, lang: str, decimals: int,
    **where: object,
) -> None:  # fmt: skip
    colour = OKABE_ITO["blue"]
    handles = [
        Line2D([], [], marker="o", color=colour, mfc=colour, ls="", label=t("legend.estimate", lang)),
        Line2D([], [], color=colour, lw=1.6, label=t("legend.ci", lang)),
    ]  # fmt: skip
    if caution:
        handles.append(
            Line2D([], [], marker="o", color=colour, mfc="white", ls="", label=t("legend.caution", lang))
        )  # fmt: skip
    if overall is not None:
        ov = _fmt_value(overall, unit, lang, decimals)
        handles.append(
            Line2D([], [], color="black", ls="--", lw=1, label=t("legend.overall", lang, value=ov))
        )  # fmt: skip
    where = where or {"loc": "outside lower center"}
    fig.legend(handles=handles, ncol=2, frameon=False, **where)  # type: ignore[arg-type]


def _text_width_in(text: str, size: float) -> float:
    """Width in inches of the longest line of `text` as the SVG is drawn (glyphs as paths,
    the report's fonts with their fallbacks); call it inside `style()`."""
    families = tuple(mpl.rcParams["font.family"])
    return max(_line_width_pt(line, size, families) for line in text.split("\n")) / 72


@cache
def _line_width_pt(line: str, size: float, families: tuple[str, ...]) -> float:
    """Width in points of one line (cached: every indicator's chart measures the same group
    labels again, and a measure lays the glyphs out through the font files)."""
    prop = font_manager.FontProperties(family=list(families), size=size)
    return text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]


def _stack(
    fig: Figure,
    axes: Sequence,
    heights: Sequence[float],
    title: str,
    panel_titles: Sequence[str],
    legend_rows: int,
) -> None:
    """Size the figure and place stacked panels by hand, top to bottom: the title, then per
    panel its title and axes (`heights`, inches), then the shared x axis and the legend.

    Constrained layout measured every tick label of every panel twice and made savefig draw
    the figure twice, and axes titles are re-placed at every draw from the tick labels of the
    whole shared-x group; placed here from the labels' widths, with panel titles as figure
    text, an 8-panel figure saves in about a third of the time, with the same look.
    """
    lines = [TEXT_LINE_IN * (x.count("\n") + 1) for x in panel_titles]
    title_h = TEXT_LINE_IN * (title.count("\n") + 1)
    labels = [tl.get_text() for ax in axes for tl in ax.get_yticklabels()]
    left = EDGE_IN + max(_text_width_in(x, MIN_FONT_PT) for x in labels) + 0.12  # ticks, pad
    right = 0.25  # half the last x tick label ('100')
    # Under the last panel: tick marks and labels, the axis label, the legend rows.
    below = 0.55 + 0.24 * legend_rows + EDGE_IN
    total = EDGE_IN + title_h + sum(lines) + sum(heights) + PANEL_GAP_IN * (len(axes) - 1)
    total += 0.1 * len(axes) + below
    fig.set_size_inches(MAX_WIDTH_IN, total)
    width = (MAX_WIDTH_IN - left - right) / MAX_WIDTH_IN
    fig.suptitle(title, x=EDGE_IN / MAX_WIDTH_IN, y=1 - EDGE_IN / total, ha="left", va="top")
    top = total - EDGE_IN - title_h
    for ax, h, text, th in zip(axes, heights, panel_titles, lines, strict=True):
        top -= th + 0.1
        fig.text(left / MAX_WIDTH_IN, (top + 0.06) / total, text, ha="left", va="bottom",
                 fontsize=FONT_PT)  # fmt: skip
        ax.set_position((left / MAX_WIDTH_IN, (top - h) / total, width, h / total))
        top -= h + PANEL_GAP_IN


def _value_axis_label(unit: str, lang: str) -> str:
    return t("axis.percent", lang) if unit == "percent" else t("axis.score", lang)


def dot_whisker(
    est: pd.DataFrame,
    variable: str,
    grouping: str,
    *,
    dimensions: DimensionSet,
    country: Country | None,
    lang: str = "en",
    indicator_label: str | None = None,
    unit: str = "percent",
    decimals: int = 1,
    suppress_n: int = 5,
) -> Chart:
    """An indicator by group: dots ordered high to low with 95% CI whiskers.

    Caution-flagged estimates are hollow; suppressed cells are kept as a marked row without a
    value (hiding the row would hide that the group was asked); a dashed line marks the overall.
    """
    _check_columns(est, ESTIMATE_COLUMNS, "estimate")
    ind = indicator_label or variable
    dim_text = dim_label(dimensions, grouping, lang)
    title = t("chart.dot_title", lang, indicator=ind, dimension=dim_text)
    cols = _dot_columns(lang, unit)
    ordered = _dot_rows(est, variable, grouping, dimensions, country, lang)
    if ordered.empty:
        return _empty_chart(title, lang, cols)
    shown, hidden = ordered[~ordered["_suppressed"]], ordered[ordered["_suppressed"]]
    overall_row, overall = _overall(est, variable, lang)

    k = len(ordered)
    with style():
        fig = _figure(1.3 + 0.34 * k)
        ax = fig.add_subplot()
        _draw_dots(ax, ordered, overall, unit, lang, suppress_n)
        ax.set_xlabel(_value_axis_label(unit, lang))
        ax.set_title(wrap(title, 60), loc="left")
        _dot_legend(fig, bool(shown["_caution"].any()), overall, unit, lang, decimals)

    # Table alternative: the plotted numbers, rounded as shown, then the overall.
    table = pd.concat(
        [_dot_table(frame, cols, unit, decimals, lang, suppress_n)
         for frame in (ordered, overall_row) if not frame.empty],
        ignore_index=True,
    )  # fmt: skip

    # Alt text from the same numbers.
    parts = [title + ".", t("alt.dot", lang, indicator=ind, k=k, dimension=dim_text)]
    if not shown.empty:
        hi, lo = shown.iloc[0], shown.iloc[-1]
        parts.append(
            t("alt.highest", lang, group=hi["_label"], value=_fmt_value(hi["estimate"], unit, lang, decimals))
        )  # fmt: skip
        if len(shown) > 1:
            parts.append(
                t("alt.lowest", lang, group=lo["_label"], value=_fmt_value(lo["estimate"], unit, lang, decimals))
            )  # fmt: skip
    if overall is not None:
        parts.append(t("alt.overall", lang, value=_fmt_value(overall, unit, lang, decimals)))
    parts += _flag_parts(
        shown.loc[shown["_caution"], "_label"].tolist(), hidden["_label"].tolist(), lang,
        suppress_n, hidden["_why"].tolist(),
    )  # fmt: skip
    decs = {cols[1]: decimals, cols[2]: decimals, cols[3]: decimals, cols[4]: 0}
    return Chart(fig, " ".join(parts), table, title, lang, decs)


def dot_whisker_panels(
    est: pd.DataFrame,
    variable: str,
    groupings: Sequence[str],
    *,
    dimensions: DimensionSet,
    country: Country | None,
    lang: str = "en",
    indicator_label: str | None = None,
    unit: str = "percent",
    decimals: int = 1,
    suppress_n: int = 5,
) -> Chart:
    """An indicator by several groupings in one figure: a dot-and-whisker panel per grouping.

    One figure instead of one per dimension keeps an SDG page short and fast to build, and
    puts every breakdown of the indicator on one value axis: panels are stacked in the order
    of `groupings`, share the x axis and the dashed overall line, and every group's row has the
    same height, so a panel is as tall as its number of groups. Within a panel the encoding is
    `dot_whisker`'s. The table alternative adds a dimension column; the alt text names, per
    dimension, the highest and the lowest group. Groupings without rows get no panel; when
    all are intersections ('sex×disability') the title says so.
    """
    _check_columns(est, ESTIMATE_COLUMNS, "estimate")
    ind = indicator_label or variable
    crossed = bool(groupings) and all(len(split_dims(g)) > 1 for g in groupings)
    title = t("chart.intersections_title" if crossed else "chart.panels_title", lang, indicator=ind)
    cols = [t("table.dimension", lang), *_dot_columns(lang, unit)]
    panels = [
        (dim_label(dimensions, g, lang), rows)
        for g in groupings
        if not (rows := _dot_rows(est, variable, g, dimensions, country, lang)).empty
    ]
    if not panels:
        return _empty_chart(title, lang, cols)
    overall_row, overall = _overall(est, variable, lang)
    lines = [max(wrap(lbl).count("\n") for lbl in rows["_label"]) for _, rows in panels]
    sizes = [
        len(r) * (PANEL_ROW_IN + PANEL_LINE_IN * x) for (_, r), x in zip(panels, lines, strict=True)
    ]
    caution = any(bool((r["_caution"] & ~r["_suppressed"]).any()) for _, r in panels)

    with style():
        # No layout engine: `_stack` places the panels (see there why).
        fig = Figure(figsize=(MAX_WIDTH_IN, 1.0))
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (_, rows) in zip(axes, panels, strict=True):
            _draw_dots(ax, rows, overall, unit, lang, suppress_n)
            # Light guides at the ticks: the shared scale is labelled on the bottom panel only.
            ax.grid(axis="x", color=LIGHT_GREY, lw=0.8)
            ax.set_axisbelow(True)
        axes[-1].set_xlabel(_value_axis_label(unit, lang))
        legend_rows = (2 + int(caution) + int(overall is not None) + 1) // 2
        # Panel titles in regular weight: the fallback fonts have no bold (matplotlib logs it).
        _stack(fig, axes, sizes, wrap(title, 60), [wrap(d, 60) for d, _ in panels], legend_rows)
        _dot_legend(fig, caution, overall, unit, lang, decimals, loc="lower center",
                    bbox_to_anchor=(0.5, EDGE_IN / fig.get_figheight()))  # fmt: skip

    frames = [
        _dot_table(rows, cols[1:], unit, decimals, lang, suppress_n).assign(**{cols[0]: dim})
        for dim, rows in panels
    ]
    if not overall_row.empty:
        frames.append(_dot_table(overall_row, cols[1:], unit, decimals, lang, suppress_n)
                      .assign(**{cols[0]: ""}))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)[cols]

    def said(r: pd.Series) -> str:
        return _fmt_value(r["estimate"], unit, lang, decimals)

    parts = [
        title + ".",
        t("alt.panels", lang, indicator=ind, k=len(panels), dimensions=", ".join(d for d, _ in panels)),
    ]  # fmt: skip
    caution_groups, hidden_groups, hidden_why = [], [], []
    for dim, rows in panels:
        shown = rows[~rows["_suppressed"]]
        if len(shown) > 1:
            hi, lo = shown.iloc[0], shown.iloc[-1]
            parts.append(t("alt.panel", lang, dimension=dim, high=hi["_label"], high_value=said(hi),
                           low=lo["_label"], low_value=said(lo)))  # fmt: skip
        elif len(shown) == 1:
            one = shown.iloc[0]
            parts.append(t("alt.panel_one", lang, dimension=dim, group=one["_label"], value=said(one)))  # fmt: skip
        # Named per dimension ("Sex × Disability: A, B"): a bare "16-24" would not say what.
        if shown["_caution"].any():
            caution_groups.append(f"{dim}: {', '.join(shown.loc[shown['_caution'], '_label'])}")
        hidden = rows[rows["_suppressed"]]
        for reason, part in hidden.groupby("_why", sort=False):
            hidden_groups.append(f"{dim}: {', '.join(part['_label'])}")
            hidden_why.append(reason)
    if overall is not None:
        parts.append(t("alt.overall", lang, value=_fmt_value(overall, unit, lang, decimals)))
    parts += _flag_parts(caution_groups, hidden_groups, lang, suppress_n, hidden_why)
    decs = {cols[2]: decimals, cols[3]: decimals, cols[4]: decimals, cols[5]: 0}
    return Chart(fig, " ".join(parts), table, title, lang, decs)


# --------------------------------------------------------------------------- heat map


def _luminance(rgb: Sequence[float]) -> float:
    """Relative luminance (WCAG 2) of an sRGB colour, to pick legible text on a cell."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def heatmap(
    est: pd.DataFrame,
    variables: Sequence[str],
    groupings: Sequence[str],
    *,
    dimensions: DimensionSet,
    country: Country | None,
    lang: str = "en",
    labels: Mapping[str, str] | None = None,
    higher_is_better: Mapping[str, bool] | None = None,
    alpha: float | None = None,
    suppress_n: int = 5,
) -> Chart:
    """Groups (rows) × indicators (columns): gap to the overall, in percentage points.

    Colour shows better (blue) or worse (orange) off than overall given each indicator's
    direction; the signed gap is written in the cell. Figures draw, they never test: `*`
    marks the cells whose `significant` column is true (the gap tests of `lnob`, corrected as
    rules.multiple_comparisons says, computed once for the cycle); a table without that column
    draws no significance marks (no star, legend entry, table column or alt-text sentence).
    `alpha` is ignored (significance is decided where the tests are run; the argument goes
    when report.py stops passing it). Suppressed cells are grey: hatched when too few
    respondents, dotted when hidden so another hidden cell cannot be worked out.
    """
    _check_columns(est, ESTIMATE_COLUMNS, "estimate")
    labels = dict(labels or {})
    hib = dict(higher_is_better or {})
    title = t("chart.heatmap_title", lang)
    sub = est[est["variable"].isin(variables)]
    overall = sub[sub["grouping"] == ""].drop_duplicates("variable").set_index("variable")
    cells = []
    for g in groupings:
        rows = sub[sub["grouping"] == g].copy()
        if rows.empty:
            continue
        rows["_code"] = _group_codes(rows, g)
        rows["_grouping"] = g
        cells.append(rows)
    tested = "significant" in sub.columns
    c_group, c_ind, c_gap = (
        t("table.group", lang),
        t("table.indicator", lang),
        t("table.gap_pp", lang),
    )
    c_sig, c_note = t("table.significant", lang), t("table.note", lang)
    cols_out = [c_group, c_ind, c_gap, *([c_sig] if tested else []), c_note]
    if not cells or overall.empty:
        return _empty_chart(title, lang, cols_out)
    cells = pd.concat(cells, ignore_index=True)
    cells = cells[cells["variable"].isin(overall.index)].copy()
    cells["estimate_overall"] = cells["variable"].map(overall["estimate"])
    cells["_caution"], cells["_suppressed"], cells["_why"] = _flags(cells)
    cells["gap"] = (cells["estimate"] - cells["estimate_overall"]) * 100
    sig = cells["significant"].fillna(False).astype(bool).to_numpy() if tested else False
    cells["_sig"] = sig & ~cells["_suppressed"].to_numpy()

    group_keys = list(dict.fromkeys(zip(cells["_grouping"], cells["_code"], strict=True)))
    group_names = [code_label(dimensions, country, g, c, lang) for g, c in group_keys]
    var_list = [v for v in variables if v in set(cells["variable"])]
    nr, nc = len(group_keys), len(var_list)
    gap = np.full((nr, nc), np.nan)
    shade = np.full((nr, nc), np.nan)
    sup = np.zeros((nr, nc), bool)
    second = np.zeros((nr, nc), bool)  # hidden by secondary suppression: dotted, not hatched
    star = np.zeros((nr, nc), bool)
    pos = {key: i for i, key in enumerate(group_keys)}
    # Plain records and a key index: iterrows and a filter per cell made the heat map's
    # build grow with the square of its cells (about half a second for the adults' map).
    recs = cells[["_grouping", "_code", "variable", "gap", "_sig", "_suppressed", "_why",
                  "_caution"]].to_dict("records")  # fmt: skip
    col_of = {v: var_list.index(v) for v in var_list}  # the first, as list.index gave
    first: dict[tuple, dict] = {}
    for r in recs:
        first.setdefault((r["_grouping"], r["_code"], r["variable"]), r)
        i, j = pos[(r["_grouping"], r["_code"])], col_of[r["variable"]]
        if r["_suppressed"]:
            sup[i, j] = True
            second[i, j] = r["_why"] == "secondary"
            continue
        gap[i, j] = r["gap"]
        shade[i, j] = r["gap"] * (1 if hib.get(r["variable"], True) else -1)
        star[i, j] = r["_sig"]
    lim = max(10.0, float(np.nanmax(np.abs(shade))) if np.isfinite(shade).any() else 10.0)

    with style():
        fig = _figure(1.8 + 0.36 * nr)
        ax = fig.add_subplot()
        ax.imshow(
            np.ma.masked_invalid(shade), cmap=GAP_CMAP, vmin=-lim, vmax=lim, aspect="auto",
            interpolation="nearest",
        )  # fmt: skip
        for i in range(nr):
            for j in range(nc):
                if sup[i, j] or np.isnan(gap[i, j]):
                    ax.add_patch(
                        mpl.patches.Rectangle(
                            (j - 0.5, i - 0.5), 1, 1, facecolor=LIGHT_GREY,
                            hatch="..." if second[i, j] else "///", edgecolor=GREY, lw=0,
                        )
                    )  # fmt: skip
                    continue
                text = fmt_number(gap[i, j], lang, 0, signed=True) + (
                    SIGNIFICANT if star[i, j] else ""
                )
                rgb = GAP_CMAP((shade[i, j] + lim) / (2 * lim))[:3]
                ink = "white" if _luminance(rgb) < 0.4 else "black"  # WCAG-style contrast
                ax.text(j, i, text, ha="center", va="center", fontsize=MIN_FONT_PT, color=ink)
        ax.set_xticks(
            range(nc), [wrap(labels.get(v, v), 18) for v in var_list], rotation=45, ha="right"
        )
        ax.set_yticks(range(nr), [wrap(n) for n in group_names])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(wrap(title, 60), loc="left")
        handles = [
            Patch(facecolor=OKABE_ITO["blue"], label=t("legend.better_off", lang)),
            Patch(facecolor=OKABE_ITO["orange"], label=t("legend.worse_off", lang)),
            *([Line2D([], [], ls="", marker="$*$", color="black", label=t("legend.significant", lang))] if tested else []),
            Patch(facecolor=LIGHT_GREY, hatch="///", edgecolor=GREY, label=t("legend.hatched_suppressed", lang, n=suppress_n)),
            *([Patch(facecolor=LIGHT_GREY, hatch="...", edgecolor=GREY, label=t("legend.dotted_secondary", lang))] if second.any() else []),
        ]  # fmt: skip
        fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)

    records = []
    for i, (g, c) in enumerate(group_keys):
        for j, v in enumerate(var_list):
            r = first.get((g, c, v))
            if r is None:
                continue
            rec = {
                c_group: group_names[i],
                c_ind: labels.get(v, v),
                c_gap: float("nan") if sup[i, j] else _round(gap[i, j], 1),
                c_sig: t("table.sig_yes", lang) if star[i, j] else "",
                c_note: _note(sup[i, j], r["_why"], r["_caution"], lang, suppress_n),
            }
            records.append({k: rec[k] for k in cols_out})
    table = pd.DataFrame(records, columns=cols_out)

    parts = [title + ".", t("alt.heatmap", lang, k=nc, m=nr)]
    shown = table[table[c_gap].notna()]
    if not shown.empty:
        absgap = shown[c_gap].abs()
        big, small = shown.loc[absgap.idxmax()], shown.loc[absgap.idxmin()]
        for key, row in (("alt.largest_gap", big), ("alt.smallest_gap", small)):
            parts.append(
                t(
                    key, lang, group=row[c_group], indicator=row[c_ind],
                    value=fmt_number(row[c_gap], lang, 1, signed=True) + " " + t("axis.pp", lang),
                )
            )  # fmt: skip
        if tested:
            parts.append(
                t("alt.significant", lang, k=int(star.sum()), m=len(shown), symbol=SIGNIFICANT)
            )
    hidden = table[table[c_gap].isna()]
    names = [f"{r[c_group]} ({r[c_ind]})" for _, r in hidden.iterrows()]
    parts += _flag_parts([], names, lang, suppress_n)
    return Chart(fig, " ".join(parts), table, title, lang, {c_gap: 1})


# --------------------------------------------------------------------------- trend


def trend(
    est: pd.DataFrame,
    variable: str,
    *,
    grouping: str = "",
    dimensions: DimensionSet,
    country: Country | None,
    lang: str = "en",
    indicator_label: str | None = None,
    unit: str = "percent",
    decimals: int = 1,
    suppress_n: int = 5,
) -> Chart:
    """An indicator over survey cycles, one line per group with a 95% CI band.

    `est` stacks the estimate tables of several cycles with a `cycle` column. Suppressed points
    are left out (the line breaks there) and named in the alt text; caution points are hollow.
    """
    _check_columns(est, (*ESTIMATE_COLUMNS, "cycle"), "estimate")
    ind = indicator_label or variable
    title = t("chart.trend_title", lang, indicator=ind)
    rows = est[(est["variable"] == variable) & (est["grouping"] == grouping)].copy()
    cols = [
        t("table.group", lang),
        t("table.cycle", lang),
        t("table.estimate_pct", lang) if unit == "percent" else t("table.estimate", lang),
        t("table.ci_low", lang),
        t("table.ci_high", lang),
        t("table.n", lang),
        t("table.note", lang),
    ]
    if rows.empty:
        return _empty_chart(title, lang, cols)
    rows["_code"] = _group_codes(rows, grouping)
    rows["_label"] = [code_label(dimensions, country, grouping, c, lang) for c in rows["_code"]]
    rows["_caution"], rows["_suppressed"], rows["_why"] = _flags(rows)
    rows["cycle"] = rows["cycle"].astype(int)
    rows = rows.sort_values(["_label", "cycle"], kind="mergesort")
    cycles = sorted(rows["cycle"].unique())
    s = _scale(unit)
    with style():
        fig = _figure(3.6)
        ax = fig.add_subplot()
        for i, (lbl, grp) in enumerate(rows.groupby("_label", sort=True)):
            colour = PALETTE[i % len(PALETTE)]
            g = grp.set_index("cycle").reindex(cycles)
            ok = ~g["_suppressed"].fillna(True).astype(bool)
            if not ok.any():
                continue  # nothing to draw; named as suppressed in the alt text and table
            y = np.where(ok, g["estimate"] * s, np.nan)
            lo = np.where(ok, g["ci_low"] * s, np.nan)
            hi = np.where(ok, g["ci_high"] * s, np.nan)
            ax.fill_between(cycles, lo, hi, color=colour, alpha=0.18, lw=0)
            ax.plot(cycles, y, color=colour, lw=1.8, label=wrap(lbl))
            caution = (ok & g["_caution"].fillna(False).astype(bool)).to_numpy()
            ax.plot(np.array(cycles)[~caution], y[~caution], ls="", marker="o", color=colour)
            if caution.any():
                ax.plot(
                    np.array(cycles)[caution], y[caution], ls="", marker="o", mfc="white",
                    mec=colour, mew=1.6,
                )  # fmt: skip
        ax.set_xticks(cycles, [str(c) for c in cycles])
        if unit == "percent":
            ax.set_ylim(0, 100)
        ax.yaxis.set_major_formatter(_axis_formatter(lang))
        ax.set_xlabel(t("axis.cycle", lang))
        ax.set_ylabel(t("axis.percent", lang) if unit == "percent" else t("axis.score", lang))
        ax.set_title(wrap(title, 60), loc="left")
        handles, _ = ax.get_legend_handles_labels()
        if rows["_caution"].any():
            handles.append(
                Line2D([], [], marker="o", color=GREY, mfc="white", ls="", label=t("legend.caution", lang))
            )  # fmt: skip
        handles.append(Patch(facecolor=GREY, alpha=0.3, label=t("legend.ci", lang)))
        fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)

    # Columns as in a dot chart's table, with the cycle after the group.
    table = _dot_table(rows, [cols[0], *cols[2:]], unit, decimals, lang, suppress_n)
    table.insert(1, cols[1], rows["cycle"].tolist())
    parts = [
        title + ".",
        t("alt.trend", lang, indicator=ind, first=cycles[0], last=cycles[-1]),
    ]
    for lbl, grp in rows[~rows["_suppressed"]].groupby("_label", sort=True):
        a, b = grp.iloc[0], grp.iloc[-1]
        parts.append(
            t(
                "alt.trend_change", lang, group=lbl, first=int(a["cycle"]), last=int(b["cycle"]),
                start=_fmt_value(a["estimate"], unit, lang, decimals),
                end=_fmt_value(b["estimate"], unit, lang, decimals),
            )
        )  # fmt: skip
    cau = rows[rows["_caution"] & ~rows["_suppressed"]]
    sup = rows[rows["_suppressed"]]
    parts += _flag_parts(
        [f"{r['_label']} {r['cycle']}" for _, r in cau.iterrows()],
        [f"{r['_label']} {r['cycle']}" for _, r in sup.iterrows()],
        lang,
        suppress_n,
        sup["_why"].tolist(),
    )
    decs = {cols[2]: decimals, cols[3]: decimals, cols[4]: decimals, cols[5]: 0}
    return Chart(fig, " ".join(parts), table, title, lang, decs)


# --------------------------------------------------------------------------- counts


def counts_bar(
    data: pd.DataFrame,
    *,
    label: str = "label",
    value: str = "n",
    what: str,
    lang: str = "en",
    title: str | None = None,
) -> Chart:
    """Counts per category (who was heard), in the given order, each bar labelled with its value.

    `data` has one row per category with an already translated `label` and a count `value`.
    """
    _check_columns(data, (label, value), "counts")
    title = title or t("chart.counts_title", lang, what=what)
    cols = [t("table.group", lang), t("table.count", lang), t("table.share_pct", lang)]
    if data.empty:
        return _empty_chart(title, lang, cols)
    labels = data[label].astype(str).tolist()
    values = data[value].astype(float).to_numpy()
    total = float(np.nansum(values))
    k = len(labels)
    with style():
        fig = _figure(1.1 + 0.34 * k)
        ax = fig.add_subplot()
        ys = np.arange(k)[::-1]
        ax.barh(ys, values, color=OKABE_ITO["blue"], height=0.6)
        for y, v in zip(ys, values, strict=True):
            ax.text(v, y, " " + fmt_number(v, lang, 0), va="center", fontsize=MIN_FONT_PT)
        ax.set_yticks(ys, [wrap(x) for x in labels])
        ax.set_xlim(0, max(values.max() * 1.15, 1))
        ax.xaxis.set_major_formatter(_axis_formatter(lang))
        ax.set_xlabel(t("axis.count", lang))
        ax.set_title(wrap(title, 60), loc="left")
    shares = [_round(100 * v / total, 1) if total else float("nan") for v in values]
    table = pd.DataFrame({cols[0]: labels, cols[1]: values.astype(int), cols[2]: shares})
    hi, lo = int(np.argmax(values)), int(np.argmin(values))
    parts = [
        title + ".",
        t("alt.counts", lang, what=what, k=k, total=fmt_number(total, lang, 0)),
        t("alt.highest", lang, group=labels[hi], value=fmt_number(values[hi], lang, 0)),
    ]
    if k > 1:
        parts.append(t("alt.lowest", lang, group=labels[lo], value=fmt_number(values[lo], lang, 0)))
    return Chart(fig, " ".join(parts), table, title, lang, {cols[1]: 0, cols[2]: 1})


# --------------------------------------------------------------------------- score card


def scorecard_dumbbell(
    data: pd.DataFrame,
    *,
    service: str,
    label: str = "criterion",
    community: str = "community",
    provider: str = "provider",
    lang: str = "en",
    decimals: int = 1,
) -> Chart:
    """Community vs provider score per criterion (1-5), joined by a line: the gap is the story.

    Community dots are round and blue, provider dots square and orange (shape and colour).
    """
    _check_columns(data, (label, community, provider), "score card")
    title = t("chart.scorecard_title", lang, service=service)
    cols = [
        t("table.criterion", lang),
        t("table.community", lang),
        t("table.provider", lang),
        t("table.score_gap", lang),
    ]
    if data.empty:
        return _empty_chart(title, lang, cols)
    d = data.copy()
    d["_gap"] = d[community] - d[provider]
    d = d.sort_values(["_gap", label], kind="mergesort")
    k = len(d)
    with style():
        fig = _figure(1.4 + 0.38 * k)
        ax = fig.add_subplot()
        ys = np.arange(k)[::-1]
        for y, (_, r) in zip(ys, d.iterrows(), strict=True):
            ax.plot([r[community], r[provider]], [y, y], color=GREY, lw=2, zorder=1)
        ax.plot(d[community], ys, ls="", marker="o", ms=8, color=OKABE_ITO["blue"],
                label=t("legend.community", lang), zorder=2)  # fmt: skip
        ax.plot(d[provider], ys, ls="", marker="s", ms=7, color=OKABE_ITO["orange"],
                label=t("legend.provider", lang), zorder=2)  # fmt: skip
        ax.set_yticks(ys, [wrap(x) for x in d[label].astype(str)])
        ax.set_ylim(-0.6, k - 0.4)
        ax.set_xlim(0.8, 5.2)
        ax.set_xticks([1, 2, 3, 4, 5])
        ax.xaxis.set_major_formatter(_axis_formatter(lang))
        ax.set_xlabel(t("axis.scale_1_5", lang))
        ax.set_title(wrap(title, 60), loc="left")
        fig.legend(loc="outside lower center", ncol=2, frameon=False)
    table = pd.DataFrame(
        {
            cols[0]: d[label].astype(str).tolist(),
            cols[1]: [_round(v, decimals) for v in d[community]],
            cols[2]: [_round(v, decimals) for v in d[provider]],
            cols[3]: [_round(v, decimals) for v in d["_gap"]],
        }
    )
    big = d.loc[d["_gap"].abs().idxmax()]
    parts = [
        title + ".",
        t("alt.scorecard", lang, k=k, service=service),
        t(
            "alt.scorecard_gap", lang, criterion=big[label],
            community=fmt_number(big[community], lang, decimals),
            provider=fmt_number(big[provider], lang, decimals),
        ),
    ]  # fmt: skip
    return Chart(fig, " ".join(parts), table, title, lang, dict.fromkeys(cols[1:], decimals))


# --------------------------------------------------------------------------- key findings
#
# The headline statements the key-findings page and the draft VNR chapter both quote: one
# place, so the report and the chapter always say the same thing about the same numbers.

MAX_GAP_FINDINGS = 6
MAX_CHANGE_FINDINGS = 2


def chart_name(variable: str, grouping: str) -> str:
    """File and anchor name of an indicator's chart ('basic_water--sex-disability'); the SDG
    pages' faceted charts are 'basic_water--groups' and 'basic_water--intersections'."""
    dims = split_dims(grouping) if grouping else ["overall"]
    return f"{variable}--{'-'.join(dims)}"


def fmt_value(x: float, unit: str, lang: str) -> str:
    """An estimate as the pages show it: percent with one decimal, scores with two."""
    if x is None or pd.isna(x):
        return "–"
    return fmt_percent(x, lang, 1) if unit == "percent" else fmt_number(x, lang, 2)


def fmt_gap(x: float, unit: str, lang: str) -> str:
    """A difference: percentage points for proportions, points for scores."""
    if unit == "percent":
        return t("report.pp", lang, value=fmt_number(100 * x, lang, 1, signed=True))
    return fmt_number(x, lang, 2, signed=True)


def findings(
    est: pd.DataFrame,
    catalogue,
    dimensions: DimensionSet,
    country: Country | None,
    lang: str,
    change: pd.DataFrame | None = None,
    cycles: tuple[int, int] | None = None,
) -> list[dict[str, str]]:
    """Headline statements: each a gap or change the statistics support, with its chart link.

    Gaps: groups significantly behind the overall value after correction (the store's
    `behind`), not caution-flagged, one per indicator (the largest), largest first, at most
    MAX_GAP_FINDINGS. Changes: significant overall changes since the previous cycle, largest
    first. Nothing is padded: a cycle with fewer supported gaps gets fewer statements.
    """
    out: list[dict[str, str]] = []
    cand = est[est["behind"] & ~est["caution"] & ~est["suppressed"] & (est["grouping"] != "")]
    cand = cand.assign(_abs=cand["gap"].abs()).sort_values(
        ["_abs", "variable", "grouping"], ascending=[False, True, True], kind="mergesort"
    )
    cand = cand.drop_duplicates("variable").head(MAX_GAP_FINDINGS)
    overall = est[est["grouping"] == ""].drop_duplicates("variable").set_index("variable")
    for _, r in cand.iterrows():
        ind = catalogue.get(r["variable"])
        g = r["grouping"]
        code = "|".join(str(r[d]) for d in split_dims(g))
        out.append(
            {
                "kind": "gap",
                "variable": r["variable"],
                "grouping": g,
                "text": t(
                    "report.finding_gap",
                    lang,
                    indicator=label(ind.label, lang, ind.id),
                    group=code_label(dimensions, country, g, code, lang),
                    value=fmt_value(r["estimate"], ind.unit, lang),
                    overall=fmt_value(overall.loc[r["variable"], "estimate"], ind.unit, lang),
                    gap=fmt_gap(r["gap"], ind.unit, lang),
                ),
                "href": f"sdg-{ind.sdg.goal}.html#fig-{chart_name(r['variable'], g)}",
            }
        )
    if change is not None and cycles is not None:
        sig = change[change["significant"]].assign(_abs=lambda d: d["change"].abs())
        sig = sig.sort_values(["_abs", "variable"], ascending=[False, True], kind="mergesort")
        for _, r in sig.head(MAX_CHANGE_FINDINGS).iterrows():
            ind = catalogue.get(r["variable"])
            better = (r["change"] > 0) == ind.higher_is_better
            out.append(
                {
                    "kind": "change",
                    "variable": r["variable"],
                    "grouping": "",
                    "text": t(
                        "report.finding_change_better" if better else "report.finding_change_worse",
                        lang,
                        indicator=label(ind.label, lang, ind.id),
                        value=fmt_value(r["estimate"], ind.unit, lang),
                        previous=fmt_value(r["previous"], ind.unit, lang),
                        cycle=cycles[0],
                        prev_cycle=cycles[1],
                        gap=fmt_gap(r["change"], ind.unit, lang),
                    ),
                    "href": f"sdg-{ind.sdg.goal}.html#fig-{chart_name(r['variable'], 'trend')}",
                }
            )
    return out


# --------------------------------------------------------------------------- official data grid

# What a cell of the "what official data misses" grid says, in drawing order of the legend:
# (key, colour, symbol in the cell). Colour never carries the meaning alone: each has a symbol.
OFFICIAL_CELLS = (
    ("only_cgd", OKABE_ITO["orange"], "•"),
    ("official", OKABE_ITO["blue"], "="),
    ("differ", OKABE_ITO["reddish_purple"], "≠"),
    ("suppressed", LIGHT_GREY, ""),
)


def official_cell(statuses: Sequence[str]) -> str:
    """A goal's cell for one group from its indicators' comparison statuses (official.compare):
    'differ' if the two sources differ on any, else 'official' if official data has a value
    for any, else 'only_cgd' if only citizen-generated data has one, else 'suppressed'."""
    s = set(statuses)
    if "differ" in s:
        return "differ"
    if "agree" in s:
        return "official"
    if "official data missing" in s:
        return "only_cgd"
    return "suppressed"


def official_grid(
    cmp: pd.DataFrame,
    goals: Mapping[str, int],
    *,
    dimensions: DimensionSet,
    country: Country | None,
    lang: str = "en",
) -> Chart:
    """SDG goals (rows) x groups (columns): where official data has a value, where only the
    citizen-generated data does, and where the two differ (the store's `official` table).

    `goals` maps each compared variable to its SDG goal. A cell aggregates the goal's
    indicators for the group (`official_cell`); the table alternative keeps the counts per
    cell, so nothing the colour summarises is lost. Groups are in the table's order (overall,
    then each dimension's codes); goals ascending.
    """
    _check_columns(cmp, ("variable", "grouping", "status"), "official comparison")
    title = t("official_grid.title", lang)
    c_goal, c_group = t("official_grid.col_goal", lang), t("table.group", lang)
    c_cell, c_ind = t("official_grid.col_cell", lang), t("official_grid.col_indicators", lang)
    counts_cols = [t(f"official_grid.cell.{k}", lang) for k, _, _ in OFFICIAL_CELLS]
    cols = [c_goal, c_group, c_cell, c_ind, *counts_cols]
    sub = cmp[cmp["variable"].isin(list(goals))].copy()
    if sub.empty:
        return _empty_chart(title, lang, cols)
    sub["_goal"] = sub["variable"].map(goals).astype(int)
    sub["_code"] = [
        "|".join(str(r[d]) for d in split_dims(g)) if g else ""
        for g, (_, r) in zip(sub["grouping"], sub.iterrows(), strict=True)
    ]
    keys = list(dict.fromkeys(zip(sub["grouping"], sub["_code"], strict=True)))
    names = [
        t("group.overall", lang) if not g else code_label(dimensions, country, g, c, lang)
        for g, c in keys
    ]
    goal_list = sorted(set(sub["_goal"]))
    cell_keys = [k for k, _, _ in OFFICIAL_CELLS]
    grid: dict[tuple[int, int], str] = {}
    records = []
    for (goal, g, code), part in sub.groupby(["_goal", "grouping", "_code"], sort=False):
        status = list(part["status"])
        kind = official_cell(status)
        grid[(goal_list.index(goal), keys.index((g, code)))] = kind
        per = {
            "only_cgd": status.count("official data missing"),
            "official": status.count("agree") + status.count("differ"),
            "differ": status.count("differ"),
            "suppressed": len(status) - sum(status.count(s) for s in ("official data missing",
                                                                      "agree", "differ")),
        }  # fmt: skip
        records.append(
            (goal_list.index(goal), keys.index((g, code)),
             [t("official_grid.goal", lang, goal=goal), names[keys.index((g, code))],
              t(f"official_grid.cell.{kind}", lang), len(status), *(per[k] for k in cell_keys)])
        )  # fmt: skip
    records.sort(key=lambda r: (r[0], r[1]))
    table = pd.DataFrame([r[2] for r in records], columns=cols)

    nr, nc = len(goal_list), len(keys)
    colours = {k: c for k, c, _ in OFFICIAL_CELLS}
    symbols = {k: s for k, _, s in OFFICIAL_CELLS}
    label_in = max(len(n) for n in names) * 0.075 + 0.2  # rotated column labels
    with style():
        fig = _figure(0.9 + 0.32 * nr + min(label_in, 1.8) + 0.55)
        ax = fig.add_subplot()
        for (i, j), kind in grid.items():
            ax.add_patch(
                mpl.patches.Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, facecolor=colours[kind], edgecolor="white", lw=1,
                    hatch="///" if kind == "suppressed" else None,
                )
            )  # fmt: skip
            if symbols[kind]:
                ink = "white" if _luminance(mpl.colors.to_rgb(colours[kind])) < 0.4 else "black"
                ax.text(j, i, symbols[kind], ha="center", va="center", color=ink,
                        fontsize=MIN_FONT_PT)  # fmt: skip
        ax.set_xlim(-0.5, nc - 0.5)
        ax.set_ylim(nr - 0.5, -0.5)
        ax.set_xticks(range(nc), [wrap(n, 40) for n in names], rotation=90)
        ax.xaxis.tick_top()
        ax.set_yticks(range(nr), [t("official_grid.goal", lang, goal=g) for g in goal_list])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(wrap(title, 60), loc="left")
        handles = [
            Patch(facecolor=c, hatch="///" if k == "suppressed" else None, edgecolor="white",
                  label=(f"{s} " if s else "") + t(f"official_grid.cell.{k}", lang))
            for k, c, s in OFFICIAL_CELLS
        ]  # fmt: skip
        fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)

    n_cells = len(grid)
    kinds = list(grid.values())
    parts = [
        title + ".",
        t("official_grid.alt", lang, k=nr, m=nc, n=n_cells, only=kinds.count("only_cgd"),
          official=kinds.count("official"), differ=kinds.count("differ")),
    ]  # fmt: skip
    return Chart(fig, " ".join(parts), table, title, lang)
