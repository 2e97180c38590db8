"""Chapter builders called by the template notebooks in `analyses/`.

Notebooks stay thin (a call or two per cell) so the logic lives here, where it is tested once
and shared by every country, cycle and language. Each builder returns a display object that
Jupyter shows and Jupyter Book renders; text comes from the registry in the page's language.
"""

from __future__ import annotations

import html
from typing import Any

from .provenance import page_header
from .registry import Project, label

__all__ = ["Html", "Markdown", "overview", "page_header", "title"]

# Overview strings per language (English fallback). The i18n catalogue may take them over.
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "overview": "Overview",
        "sdgs": "SDGs in focus",
        "instruments": "Instruments",
        "fieldwork": "Fieldwork",
        "regions": "Regions",
        "to": "to",
        "intro": "This chapter describes the {cycle} survey cycle in {country}: the Sustainable "
        "Development Goals it focuses on, the questionnaires used and where and when the "
        "fieldwork took place.",
        "goal": "SDG {goal}",
    },
    "vi": {
        "overview": "Tổng quan",
        "sdgs": "Các mục tiêu SDG trọng tâm",
        "instruments": "Bộ công cụ khảo sát",
        "fieldwork": "Thời gian thu thập dữ liệu",
        "regions": "Các vùng",
        "to": "đến",
        "intro": "Chương này mô tả chu kỳ khảo sát {cycle} tại {country}: các Mục tiêu Phát "
        "triển Bền vững trọng tâm, các bảng hỏi được sử dụng, địa bàn và thời gian thu thập "
        "dữ liệu.",
        "goal": "SDG {goal}",
    },
}


def _t(key: str, lang: str, **fmt: Any) -> str:
    text = _TEXT.get(lang, {}).get(key) or _TEXT["en"][key]
    return text.format(**fmt) if fmt else text


class Markdown:
    """Markdown for the book (MyST parses text/markdown outputs), plain text for the console."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


class Html:
    """HTML for the book and Jupyter, plain text for the console."""

    def __init__(self, text: str, plain: str = "") -> None:
        self.text = text
        self.plain = plain

    def _repr_html_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.plain or self.text


def title(project: Project, iso: str, cycle: int | str, lang: str) -> Markdown:
    """The page title: '<cycle title>: Overview', in the page's language."""
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    name = label(cyc.title, lang, f"{label(country.name, lang)} {cycle}")
    return Markdown(f"# {name}: {_t('overview', lang)}")


def overview(project: Project, iso: str, cycle: int | str, lang: str) -> Html:
    """Cycle overview: SDGs in focus, instruments, fieldwork dates and regions, from the registry."""
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    esc = html.escape
    cname = label(country.name, lang, iso)
    intro = _t("intro", lang, cycle=cyc.cycle, country=cname)
    goals = ", ".join(_t("goal", lang, goal=g) for g in sorted(cyc.sdgs))
    insts = "".join(
        f"<li>{esc(label(inst.label, lang, name))}</li>" for name, inst in cyc.instruments.items()
    )
    regions = ", ".join(label(r.name, lang, r.code) for r in country.regions)
    rows = [(_t("sdgs", lang), esc(goals))]
    rows.append((_t("instruments", lang), f"<ul>{insts}</ul>"))
    if cyc.fieldwork is not None:
        rows.append(
            (
                _t("fieldwork", lang),
                f"{esc(cyc.fieldwork.start)} {esc(_t('to', lang))} {esc(cyc.fieldwork.end)}",
            )
        )
    rows.append((_t("regions", lang), esc(regions)))
    body = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{v}</td></tr>' for k, v in rows)
    text = f'<p>{esc(intro)}</p><table class="voicescount-overview"><tbody>{body}</tbody></table>'
    plain = "\n".join([intro] + [f"{k}: {html.unescape(v)}" for k, v in rows])
    return Html(text, plain)
