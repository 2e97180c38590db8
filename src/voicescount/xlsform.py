"""XLSForm codebooks: question and choice labels, in every language the form carries.

The XLSForm a partner designed in KoboToolbox or ODK is the only place where "2" becomes
"Female" / "Nữ" and where we learn that a column is a select_multiple or a GPS point. Intake
uses it to translate label exports back to codes, to spot identifying question types and to
expand select_multiple answers; the report uses it for labels in the reader's language.

Forms arrive in several dialects, all read here into one `Codebook`:

- an `.xlsx` workbook with `survey`, `choices` and `settings` sheets (pyxform examples, the
  form Kobo downloads), with label columns `label::English (en)`, `label::english`,
  `label:English` or a plain `label`;
- Kobo's JSON form content (the asset's `content`, or a formpack fixture holding `content`
  and `submissions`), where translated labels are arrays indexed by `translations`.

Types are normalised (`select one from x or specify other` -> select_one, list `x`, or_other;
`begin group` -> begin_group; `select_multiple  x` with two spaces works too). Language names
become ISO 639-1 codes where the column says so (`English (en)` -> `en`) or where the name is in
a small table (`english`, `Español`, `Tiếng Việt`); other names are kept as given. A label
without a language is stored under `und` (ISO 639-2 "undetermined") unless the settings sheet
declares a `default_language`.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

Labels = dict[str, str]

#: Language names seen in XLSForm label columns and Kobo `translations`, to ISO 639-1.
LANGUAGE_NAMES: dict[str, str] = {
    "english": "en",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "portuguese": "pt",
    "português": "pt",
    "swahili": "sw",
    "kiswahili": "sw",
    "vietnamese": "vi",
    "tiếng việt": "vi",
    "tieng viet": "vi",
    "bangla": "bn",
    "bengali": "bn",
    "বাংলা": "bn",
    "arabic": "ar",
    "العربية": "ar",
    "hindi": "hi",
    "nepali": "ne",
    "amharic": "am",
    "somali": "so",
    "khmer": "km",
    "lao": "lo",
    "thai": "th",
    "indonesian": "id",
    "burmese": "my",
    "myanmar": "my",
    "chinese": "zh",
    "russian": "ru",
    "german": "de",
    "urdu": "ur",
    "tagalog": "tl",
    "filipino": "fil",
}

#: A label with no language attached.
UNDETERMINED = "und"

#: Question types whose answers locate or identify a person: removed at intake.
IDENTIFYING_TYPES = frozenset({"geopoint", "geotrace", "geoshape", "phonenumber"})

_TYPE_ALIASES = {
    "begin group": "begin_group",
    "end group": "end_group",
    "begin repeat": "begin_repeat",
    "end repeat": "end_repeat",
    "begin_grp": "begin_group",
    "end_grp": "end_group",
    "phone number": "phonenumber",
    "phone_number": "phonenumber",
    "gps": "geopoint",
    "location": "geopoint",
    "int": "integer",
    "add note prompt": "note",
    "add text prompt": "text",
    "add integer prompt": "integer",
    "add decimal prompt": "decimal",
    "add date prompt": "date",
}

_SELECT_RE = re.compile(
    r"^(?P<kind>select_one|select one|select_multiple|select multiple|select all that apply|"
    r"select_one_from_file|select_multiple_from_file|rank)"
    r"(?:\s+from)?\s+(?P<list>\S+)(?P<other>\s+(?:or_other|or specify other))?$",
    re.IGNORECASE,
)
_LANG_CODE_RE = re.compile(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\)\s*$")


def normalise_language(name: str | None) -> str:
    """`English (en)` -> `en`; `english` -> `en`; unknown names kept as written."""
    if name is None:
        return UNDETERMINED
    text = unicodedata.normalize("NFC", str(name)).strip()
    if not text:
        return UNDETERMINED
    m = _LANG_CODE_RE.search(text)
    if m:
        return m.group(1).split("-")[0].lower()
    key = text.lower()
    if key in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[key]
    if re.fullmatch(r"[a-z]{2,3}", key):
        return key
    return text


def parse_type(raw: str | None) -> tuple[str, str | None, bool]:
    """Split an XLSForm `type` cell into (base type, list name, or_other).

    `select one from sexes or specify other` -> ("select_one", "sexes", True).
    """
    text = re.sub(r"\s+", " ", str(raw or "")).strip()
    low = text.lower()
    m = _SELECT_RE.match(text)
    if m:
        kind = m.group("kind").lower().replace(" ", "_")
        if kind in ("select_all_that_apply", "rank"):
            kind = "select_multiple"
        return kind.replace("_from_file", ""), m.group("list"), bool(m.group("other"))
    low = _TYPE_ALIASES.get(low, low)
    return low.replace(" ", "_"), None, False


@dataclass(frozen=True)
class Question:
    """One row of the survey sheet (groups and repeats included, as kind begin_*)."""

    name: str
    path: str
    type: str
    list_name: str | None = None
    or_other: bool = False
    labels: Labels = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    repeat: str | None = None

    @property
    def select(self) -> str | None:
        """'one', 'multiple' or None."""
        if self.type == "select_one":
            return "one"
        if self.type == "select_multiple":
            return "multiple"
        return None

    @property
    def identifying(self) -> bool:
        return self.type in IDENTIFYING_TYPES


@dataclass
class Codebook:
    """Questions and choice lists of one form, with labels per language."""

    questions: dict[str, Question]
    choices: dict[str, dict[str, Labels]]
    languages: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    # ------------------------------------------------------------------ lookup
    def question(self, name: str) -> Question | None:
        """By name, by full path (`group/q`) or by ODK's dashed path (`group-q`)."""
        if name in self.questions:
            return self.questions[name]
        for q in self.questions.values():
            if q.path == name or q.path.replace("/", "-") == name:
                return q
        last = name.replace("-", "/").rsplit("/", 1)[-1]
        return self.questions.get(last)

    def label(self, name: str, lang: str = "en") -> str:
        """The question's label in `lang` (falling back to English, then any); else its name."""
        q = self.question(name)
        return _pick(q.labels, lang, name) if q else name

    def choice_list(self, name: str) -> dict[str, Labels]:
        """Choices of the select question `name`, in form order ({} if not a select)."""
        q = self.question(name)
        if q is None or q.list_name is None:
            return {}
        return self.choices.get(q.list_name, {})

    def choice_label(self, name: str, code: Any, lang: str = "en") -> str:
        """Label of answer `code` to question `name`; the code itself if unknown."""
        labels = self.choice_list(name).get(_code_text(code))
        return _pick(labels, lang, _code_text(code)) if labels else _code_text(code)

    def label_to_code(self, name: str) -> dict[str, str]:
        """Every label (any language, case-folded) of the question's choices -> its code."""
        out: dict[str, str] = {}
        for code, labels in self.choice_list(name).items():
            for text in labels.values():
                out.setdefault(_fold(text), code)
        return out

    def repeats(self) -> list[Question]:
        return [q for q in self.questions.values() if q.type == "begin_repeat"]

    def identifying_questions(self) -> list[Question]:
        return [q for q in self.questions.values() if q.identifying]

    def question_labels(self) -> set[str]:
        """All question labels in every language (case-folded), to spot label header rows."""
        return {_fold(t) for q in self.questions.values() for t in q.labels.values() if t}


def _code_text(code: Any) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFC", str(text)).strip().casefold()


def _pick(labels: Labels | None, lang: str, fallback: str) -> str:
    if not labels:
        return fallback
    return (
        labels.get(lang)
        or labels.get("en")
        or labels.get(UNDETERMINED)
        or next((v for v in labels.values() if v), fallback)
    )


# ---------------------------------------------------------------------- row parsing


def _label_columns(keys: Iterable[str]) -> dict[str, str]:
    """Map label column names to language codes: `label::English (en)` -> en."""
    out = {}
    for key in keys:
        k = str(key).strip()
        m = re.match(r"^label(?:\s*::?\s*(.*))?$", k, flags=re.IGNORECASE)
        if not m:
            continue
        out[key] = normalise_language(m.group(1)) if m.group(1) else None
    return out


def _labels_of(row: dict[str, Any], translations: list[str | None], default_lang: str) -> Labels:
    labels: Labels = {}
    raw = row.get("label")
    if isinstance(raw, list):
        for i, text in enumerate(raw):
            if text is None or text == "":
                continue
            lang = normalise_language(translations[i]) if i < len(translations) else default_lang
            labels[lang if lang != UNDETERMINED else default_lang] = _nfc(text)
    for col, lang in _label_columns(
        k for k in row if k != "label" or not isinstance(raw, list)
    ).items():
        text = row.get(col)
        if text is None or text == "" or isinstance(text, list):
            continue
        labels[lang or default_lang] = _nfc(text)
    return labels


def _nfc(text: Any) -> str:
    return unicodedata.normalize("NFC", str(text)).strip()


def build_codebook(
    survey: list[dict[str, Any]],
    choices: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    translations: list[str | None] | None = None,
    source: Path | None = None,
) -> Codebook:
    """Build a Codebook from survey/choices rows (dicts keyed by column header)."""
    settings = dict(settings or {})
    default_lang = (
        normalise_language(settings.get("default_language"))
        if settings.get("default_language")
        else UNDETERMINED
    )
    translations = list(translations or [])
    questions: dict[str, Question] = {}
    stack: list[tuple[str, bool]] = []  # (group name, is_repeat)
    languages: list[str] = []

    def seen(labels: Labels) -> None:
        for lang in labels:
            if lang not in languages:
                languages.append(lang)

    for row in survey:
        row = {str(k).strip(): v for k, v in row.items() if k is not None}
        raw_type = row.get("type")
        if raw_type is None or str(raw_type).strip() == "":
            continue
        qtype, list_name, or_other = parse_type(raw_type)
        list_name = row.get("select_from_list_name") or list_name
        if qtype in ("end_group", "end_repeat"):
            if stack:
                stack.pop()
            continue
        name = row.get("name") or row.get("$autoname")
        if name is None or str(name).strip() == "":
            if qtype in ("begin_group", "begin_repeat"):
                stack.append(("", qtype == "begin_repeat"))
            continue
        name = str(name).strip()
        labels = _labels_of(row, translations, default_lang)
        seen(labels)
        groups = tuple(g for g, _ in stack if g)
        repeat = next((g for g, rep in reversed(stack) if rep and g), None)
        path = "/".join((*groups, name))
        questions[name] = Question(
            name=name,
            path=path,
            type=qtype,
            list_name=str(list_name).strip() if list_name else None,
            or_other=or_other or bool(str(row.get("or_other", "")).lower() in ("true", "yes")),
            labels=labels,
            groups=groups,
            repeat=repeat,
        )
        if qtype in ("begin_group", "begin_repeat"):
            stack.append((name, qtype == "begin_repeat"))

    lists: dict[str, dict[str, Labels]] = {}
    for row in choices or []:
        row = {str(k).strip(): v for k, v in row.items() if k is not None}
        lname = row.get("list_name", row.get("list name"))
        code = row.get("name", row.get("value"))
        if lname is None or code is None or str(lname).strip() == "":
            continue
        labels = _labels_of(row, translations, default_lang)
        seen(labels)
        lists.setdefault(str(lname).strip(), {})[_code_text(code).strip()] = labels
    for q in questions.values():
        if q.or_other and q.list_name:
            lists.setdefault(q.list_name, {}).setdefault("other", {"en": "Other"})
    return Codebook(
        questions=questions, choices=lists, languages=languages, settings=settings, source=source
    )


# ---------------------------------------------------------------------- readers


def read_form(path: str | Path) -> Codebook:
    """Read an XLSForm (.xlsx) or a Kobo JSON form into a Codebook."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "form file not found.", path=path, hint="Correct the `form:` path in cycle.yml."
        )
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json_form(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx_form(path)
    if suffix == ".xls":
        raise InputError(
            "is an old Excel 97-2003 (.xls) form, which is not read.",
            path=path,
            hint="Open it in Excel or LibreOffice and save it as .xlsx, then point `form:` there.",
        )
    raise InputError(
        f"is not a form format we read ('{path.suffix}').",
        path=path,
        hint="Use the XLSForm .xlsx (Kobo: Download form > XLS) or the Kobo JSON form content.",
    )


def _read_json_form(path: Path) -> Codebook:
    try:
        with path.open("rb") as fh:
            data = json.loads(fh.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"is not valid UTF-8 JSON ({exc}).",
            path=path,
            hint="Download the form again from KoboToolbox, or use the XLSForm .xlsx.",
        ) from None
    return codebook_from_json(data, source=path)


def codebook_from_json(data: Any, source: Path | None = None) -> Codebook:
    """Kobo form content: a dict with `survey`, or one holding it under `content`."""
    content = data
    if isinstance(data, dict) and "survey" not in data and isinstance(data.get("content"), dict):
        content = data["content"]
    if not isinstance(content, dict) or not isinstance(content.get("survey"), list):
        raise InputError(
            "holds no XLSForm `survey` (expected Kobo form content with a 'survey' list).",
            path=source,
            hint="Point `form:` at the XLSForm .xlsx or the Kobo asset JSON.",
        )
    settings = content.get("settings") or {}
    if isinstance(settings, list):
        settings = settings[0] if settings else {}
    return build_codebook(
        content["survey"],
        content.get("choices") or [],
        settings,
        translations=content.get("translations"),
        source=source,
    )


def _sheet_rows(ws) -> list[dict[str, Any]]:
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if not header:
        return []
    keys = [str(h).strip() if h is not None else None for h in header]
    out = []
    for values in rows:
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        out.append({k: v for k, v in zip(keys, values, strict=False) if k})
    return out


def _read_xlsx_form(path: Path) -> Codebook:
    import openpyxl

    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(
            "is password-protected or an old .xls file renamed to .xlsx, so it cannot be read.",
            path=path,
            hint="Remove the password (or save as .xlsx) in Excel, then run again.",
        )
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"is not a readable .xlsx workbook ({exc}); it may be truncated.",
            path=path,
            hint="Download the form again from KoboToolbox/ODK.",
        ) from None
    try:
        sheets = {name.strip().lower(): wb[name] for name in wb.sheetnames}
        if "survey" not in sheets:
            raise InputError(
                f"has no 'survey' sheet (sheets: {', '.join(wb.sheetnames)}).",
                path=path,
                hint="An XLSForm needs a sheet named 'survey'; is this the data export instead?",
            )
        survey = _sheet_rows(sheets["survey"])
        choices = _sheet_rows(sheets["choices"]) if "choices" in sheets else []
        settings_rows = _sheet_rows(sheets["settings"]) if "settings" in sheets else []
    finally:
        wb.close()
    settings = settings_rows[0] if settings_rows else {}
    return build_codebook(survey, choices, settings, source=path)
