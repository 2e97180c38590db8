"""Voices: what people said in interviews, focus groups and community dialogues.

Qualitative evidence is counted as carefully as survey data: every coded segment counts
towards its theme and group, and cases and stories are counted in full, not only sampled.
Quotes are shown only for themes raised in at least `rules.min_quote_group` distinct
activities (one loud session is not a pattern, and a rare theme could identify a speaker),
are scrubbed of phone numbers, e-mail addresses and declared names, are chosen by a fixed
hash (the same quotes on every run, not the first rows of the file), and are rendered with
`as_text`, which makes any text inert in HTML, Markdown and MyST.

Input schemas (CSV, UTF-8; see docs/DEVELOPING.md):
- qualitative.csv: segment_id, activity_id, type (kii|fgd|dialogue), region, group, theme,
  sdg, language, text, story (0/1)
- themes.csv: theme, sdg, label_en, label_<lang>...
- activities.csv: activity_id, type, date, region, group, participants, participants_female,
  participants_with_disability

Errors name the file, the row as a spreadsheet shows it (header = row 1) and the column.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from . import sidefiles
from .i18n import t

ACTIVITY_TYPES = ("kii", "fgd", "dialogue")
GROUPS = ("youth", "women", "pwd", "children", "lgbt", "ethnic_minority", "cso")
SEGMENT_COLUMNS = (
    "segment_id",
    "activity_id",
    "type",
    "region",
    "group",
    "theme",
    "sdg",
    "language",
    "text",
    "story",
)
THEME_COLUMNS = ("theme", "sdg", "label_en")
ACTIVITY_COLUMNS = (
    "activity_id",
    "type",
    "date",
    "region",
    "group",
    "participants",
    "participants_female",
    "participants_with_disability",
)


# --------------------------------------------------------------------------- reading


def read_segments(path: str | Path) -> pd.DataFrame:
    """Coded segments (qualitative.csv), checked: known type, group and story flag, unique ids."""
    df = sidefiles.read_csv(path, SEGMENT_COLUMNS, "coded segments", keep_spaces=("text",))
    sidefiles.check_unique(df, path, "segment_id")
    sidefiles.check_allowed(df, path, "type", ACTIVITY_TYPES)
    sidefiles.check_allowed(df, path, "group", GROUPS)
    sidefiles.check_allowed(df, path, "story", ("0", "1"))
    sidefiles.check_filled(df, path, "theme", "Code every segment with a theme from themes.csv.")
    df["story"] = pd.to_numeric(df["story"], errors="coerce").fillna(0).astype(int)
    return df


def read_themes(path: str | Path) -> pd.DataFrame:
    """The theme list with labels per language (label_en required)."""
    df = sidefiles.read_csv(path, THEME_COLUMNS, "themes")
    sidefiles.check_unique(df, path, "theme")
    return df


def read_activities(path: str | Path) -> pd.DataFrame:
    """Activities held (activities.csv), with participant counts checked for consistency."""
    df = sidefiles.read_csv(path, ACTIVITY_COLUMNS, "activities")
    sidefiles.check_unique(df, path, "activity_id")
    sidefiles.check_allowed(df, path, "type", ACTIVITY_TYPES)
    for col in ("participants", "participants_female", "participants_with_disability"):
        df[col] = sidefiles.to_count(df, path, col)
    for col in ("participants_female", "participants_with_disability"):
        sidefiles.fail_first(
            df,
            df[col] > df["participants"],
            path,
            col,
            lambda r, col=col: f"{col} ({r[col]}) exceeds participants ({r['participants']}).",
            "Correct the participant counts.",
        )
    return df


def check_themes(segments: pd.DataFrame, themes: pd.DataFrame, path: str | Path) -> None:
    """Every coded theme must be declared in themes.csv (a typo would split a theme in two)."""
    sidefiles.fail_first(
        segments,
        ~segments["theme"].isin(themes["theme"]),
        path,
        "theme",
        lambda r: f"theme '{r['theme']}' is not in themes.csv.",
        "Add the theme to themes.csv or correct its code.",
    )


# --------------------------------------------------------------------------- labels


def theme_labels(themes: pd.DataFrame | None, lang: str) -> dict[str, str]:
    """theme code -> label in `lang` (English, then the code, when untranslated)."""
    if themes is None:
        return {}
    out = {}
    for _, r in themes.iterrows():
        own = r.get(f"label_{lang}", "")
        out[r["theme"]] = (own if isinstance(own, str) and own.strip() else r["label_en"]) or r[
            "theme"
        ]
    return out


def group_label(group: str, lang: str) -> str:
    return t(f"lnob_group.{group}", lang) if group in GROUPS else group


# --------------------------------------------------------------------------- counting


def themes_by_group(
    segments: pd.DataFrame, themes: pd.DataFrame | None = None, lang: str = "en"
) -> pd.DataFrame:
    """Per theme and group: coded segments, distinct activities and stories, all counted.

    Sorted by theme (most activities first) then group, so tables read the same every run.
    """
    g = (
        segments.groupby(["theme", "group"], sort=True)
        .agg(
            segments=("segment_id", "size"),
            activities=("activity_id", "nunique"),
            stories=("story", "sum"),
        )
        .reset_index()
    )
    reach = segments.groupby("theme")["activity_id"].nunique()
    g["_reach"] = g["theme"].map(reach)
    g = g.sort_values(["_reach", "theme", "group"], ascending=[False, True, True], kind="mergesort")
    labels = theme_labels(themes, lang)
    g.insert(1, "theme_label", [labels.get(x, x) for x in g["theme"]])
    g.insert(3, "group_label", [group_label(x, lang) for x in g["group"]])
    return (
        g.drop(columns="_reach")
        .reset_index(drop=True)
        .astype({"segments": int, "activities": int, "stories": int})
    )


def theme_summary(
    segments: pd.DataFrame, themes: pd.DataFrame | None = None, lang: str = "en"
) -> pd.DataFrame:
    """Per theme: segments, distinct activities and groups that raised it, cases and stories."""
    g = (
        segments.groupby("theme", sort=True)
        .agg(
            segments=("segment_id", "size"),
            activities=("activity_id", "nunique"),
            groups=("group", "nunique"),
            stories=("story", "sum"),
        )
        .reset_index()
        .sort_values(["activities", "theme"], ascending=[False, True], kind="mergesort")
    )
    labels = theme_labels(themes, lang)
    g.insert(1, "theme_label", [labels.get(x, x) for x in g["theme"]])
    return g.reset_index(drop=True).astype({"stories": int})


def activities_summary(activities: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Interviews, focus groups and dialogues held, with participants by sex and disability.

    Columns are labelled in `lang`; the last row is the total.
    """
    cols = ("participants", "participants_female", "participants_with_disability")
    rows = []
    for typ in ACTIVITY_TYPES:
        sub = activities[activities["type"] == typ]
        rows.append([t(f"activity.{typ}", lang), len(sub), *(int(sub[c].sum()) for c in cols)])
    rows.append(
        [t("table.total", lang), len(activities), *(int(activities[c].sum()) for c in cols)]
    )
    header = [
        t("table.activity_type", lang),
        t("table.activities", lang),
        t("table.participants", lang),
        t("table.participants_female", lang),
        t("table.participants_with_disability", lang),
    ]
    return pd.DataFrame(rows, columns=header)


# --------------------------------------------------------------------------- anonymising

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Digit runs with spaces, dots, dashes or brackets; counted as a phone number from 9 digits
# (VN 10, KE 10, BD 11 digits; years and year ranges such as 2019-2020 stay).
PHONE_CANDIDATE_RE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().\-]{6,}\d(?![\w])")
MIN_PHONE_DIGITS = 9


def scrub(text: str, patterns: Iterable[str | re.Pattern[str]] = (), lang: str = "en") -> str:
    """Remove e-mail addresses, phone numbers and the declared names from `text`.

    `patterns` are names (matched whole-word, case-insensitive, after Unicode NFC
    normalisation, so 'Nguyễn Văn An' typed either way is caught) or compiled regexes.
    """
    out = unicodedata.normalize("NFC", str(text))
    out = EMAIL_RE.sub(t("voices.redacted_email", lang), out)

    def _phone(m: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in m.group(0))
        return t("voices.redacted_phone", lang) if digits >= MIN_PHONE_DIGITS else m.group(0)

    out = PHONE_CANDIDATE_RE.sub(_phone, out)
    names = []
    for p in patterns:
        if isinstance(p, re.Pattern):
            out = p.sub(t("voices.redacted_name", lang), out)
        elif str(p).strip():
            names.append(unicodedata.normalize("NFC", str(p).strip()))
    # Longest first, so 'Nguyễn Văn An' is replaced whole before 'An'.
    for name in sorted(set(names), key=lambda s: (-len(s), s)):
        rx = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE | re.UNICODE)
        out = rx.sub(t("voices.redacted_name", lang), out)
    return out


# --------------------------------------------------------------------------- safe text

# Every ASCII punctuation character except , ; ? becomes a numeric character reference: it
# displays the same in HTML and Markdown, but can no longer open a tag, an attribute, a link,
# a MyST role ({role}`x`) or directive (``` / :::), math ($), emphasis, a table or a heading.
_SAFE_PUNCT = set(",;?")
_ESCAPE = {
    ord(ch): f"&#{ord(ch)};" for ch in "!\"#$%&'()*+-./:<=>@[\\]^_`{|}~" if ch not in _SAFE_PUNCT
}


def as_text(s: object) -> str:
    """`s` as inert text for HTML, Markdown or MyST: shown verbatim, never interpreted.

    Line breaks and runs of spaces collapse to one space (no block syntax such as fences,
    lists or indented code can start), control characters are dropped.
    """
    text = unicodedata.normalize("NFC", "" if s is None else str(s))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n\r")
    text = " ".join(text.split())
    return text.translate(_ESCAPE)


# --------------------------------------------------------------------------- quotes


def _rank(segment_id: str) -> str:
    return hashlib.sha256(f"voicescount-quote:{segment_id}".encode()).hexdigest()


def select_quotes(
    segments: pd.DataFrame,
    *,
    min_activities: int,
    per_theme: int = 2,
    names: Iterable[str | re.Pattern[str]] = (),
    themes: pd.DataFrame | None = None,
    lang: str = "en",
) -> pd.DataFrame:
    """Anonymised quotes per theme, for themes raised in at least `min_activities` activities.

    Within a theme, candidates are ordered by a hash of their segment id and taken in turn
    from each group (so one group does not speak for all), at most one per activity.
    Returns theme, theme_label, group, group_label, type, segment_id, text (scrubbed, raw:
    pass it through `as_text` when rendering).
    """
    reach = segments.groupby("theme")["activity_id"].nunique()
    eligible = sorted(reach[reach >= min_activities].index)
    labels = theme_labels(themes, lang)
    records = []
    for theme in eligible:
        cand = segments[(segments["theme"] == theme) & segments["text"].str.strip().ne("")].copy()
        cand["_rank"] = cand["segment_id"].map(_rank)
        cand = cand.sort_values("_rank", kind="mergesort")
        queues = {
            g: list(sub.itertuples(index=False)) for g, sub in cand.groupby("group", sort=True)
        }
        chosen, used_activities = [], set()
        while len(chosen) < per_theme and any(queues.values()):
            for g in sorted(queues):
                while queues[g] and queues[g][0].activity_id in used_activities:
                    queues[g].pop(0)
                if queues[g] and len(chosen) < per_theme:
                    row = queues[g].pop(0)
                    used_activities.add(row.activity_id)
                    chosen.append(row)
        for row in chosen:
            records.append(
                {
                    "theme": theme,
                    "theme_label": labels.get(theme, theme),
                    "group": row.group,
                    "group_label": group_label(row.group, lang),
                    "type": row.type,
                    "segment_id": row.segment_id,
                    "text": scrub(row.text, names, lang),
                }
            )
    cols = ["theme", "theme_label", "group", "group_label", "type", "segment_id", "text"]
    return pd.DataFrame(records, columns=cols)
