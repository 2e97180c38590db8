"""Message catalogue, number formats and labels in the report's languages."""

from __future__ import annotations

import math

import pytest

from voicescount import i18n
from voicescount.errors import ConfigError
from voicescount.registry import Project


@pytest.fixture(scope="module")
def project(project_root):
    return Project(project_root)


def test_every_english_key_is_translated_to_vietnamese():
    en, vi = i18n.catalogue("en"), i18n.catalogue("vi")
    missing = sorted(set(en) - set(vi))
    assert not missing, f"keys missing from vi.yml: {missing}"


@pytest.mark.parametrize("lang", ["vi", "sw", "bn"])
def test_translations_know_only_english_keys_and_keep_placeholders(lang):
    en, other = i18n.catalogue("en"), i18n.catalogue(lang)
    assert set(other) <= set(en), sorted(set(other) - set(en))
    for key, msg in other.items():
        assert i18n.placeholders(msg) == i18n.placeholders(en[key]), key


def test_t_formats_and_falls_back_to_english_only_without_a_catalogue():
    assert i18n.t("legend.suppressed", "vi", n=5) == "đã ẩn: ít hơn 5 người trả lời"
    # a language with no catalogue at all is English, and says so
    with pytest.warns(i18n.UntranslatedWarning, match="locales/xx.yml"):
        i18n._warn_untranslated.cache_clear()
        assert i18n.t("legend.caution", "xx") == "use with caution"
    with pytest.raises(KeyError):
        i18n.t("no.such.key", "en")


@pytest.fixture
def locales(tmp_path, monkeypatch):
    """A throw-away locales folder: write catalogues into it, i18n reads them fresh."""

    def write(lang: str, text: str) -> None:
        (tmp_path / f"{lang}.yml").write_text(text, encoding="utf-8")
        i18n._load.cache_clear()
        i18n.catalogue.cache_clear()

    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    yield write
    i18n._load.cache_clear()
    i18n.catalogue.cache_clear()


def test_t_never_quietly_falls_back_for_a_language_with_a_catalogue(locales):
    locales("en", "a: {b: Apple, c: 'Cat {n}', d: Dog}\n")
    locales(
        "zz", "_meta: {review: machine-drafted, keys: [a.b]}\na: {b: Zapple, c: 'Zat {m}', x: X}\n"
    )
    assert i18n.t("a.b", "zz") == "Zapple"
    with pytest.raises(i18n.MissingTranslation, match=r"zz\.yml, field 'a\.d'.*'Dog'"):
        i18n.t("a.d", "zz")
    assert i18n.missing_keys("zz") == ["a.d"]
    assert i18n.missing_keys("yy") == ["a.b", "a.c", "a.d"]  # no catalogue: everything
    problems = i18n.catalogue_problems("zz")
    assert "zz.yml lacks 'a.d'" in problems
    assert "zz.yml has 'a.x', which en.yml does not" in problems
    assert "zz.yml 'a.c' has placeholders ['m'], en.yml ['n']" in problems
    assert i18n.drafted_keys("zz") == {"a.b"} and i18n.is_machine_drafted("zz")
    locales("zz", "_meta: {review: machine-drafted, keys: [a.nope]}\na: {b: Zapple}\n")
    with pytest.raises(ConfigError, match="_meta.keys"):
        i18n.drafted_keys("zz")


def _published_languages(root) -> set[str]:
    """Every language a cycle (data/*/*/cycle.yml) or a country (countries.yml) publishes."""
    import yaml

    langs: set[str] = set()
    for path in sorted((root / "data").glob("*/*/cycle.yml")):
        langs |= set(yaml.safe_load(path.read_text(encoding="utf-8")).get("languages") or [])
    countries = yaml.safe_load((root / "data" / "countries.yml").read_text(encoding="utf-8"))
    for country in countries["countries"]:
        langs |= set(country.get("languages") or [])
    return langs


def test_every_published_language_has_a_complete_catalogue(project_root):
    langs = _published_languages(project_root)
    assert {"en", "vi", "sw", "bn"} <= langs  # the check reads the real registry
    problems = {lang: i18n.catalogue_problems(lang) for lang in sorted(langs)}
    assert not any(problems.values()), {k: v[:10] for k, v in problems.items() if v}


def test_language_names_are_endonyms_in_every_catalogue():
    names = {k: v for k, v in i18n.catalogue("en").items() if k.startswith("language.")}
    assert names["language.vi"] == "Tiếng Việt" and names["language.bn"] == "বাংলা"
    for lang in i18n.languages():
        assert {k: i18n.t(k, lang) for k in names} == names, lang


def test_machine_drafted_catalogues_are_marked_and_say_so():
    assert i18n.is_machine_drafted("sw") and i18n.is_machine_drafted("bn")
    assert not i18n.is_machine_drafted("en")
    # vi is reviewed; only its translation of the drafting notice itself is drafted
    assert not i18n.is_machine_drafted("vi")
    assert "notice.machine_drafted_text" in i18n.drafted_keys("vi")
    assert i18n.drafted_keys("sw") == frozenset(i18n.catalogue("sw"))
    assert not any(k.startswith("_meta") for k in i18n.catalogue("sw"))


@pytest.mark.parametrize(
    ("x", "lang", "decimals", "expected"),
    [
        (1234567.891, "en", 1, "1,234,567.9"),
        (1234567.891, "vi", 1, "1.234.567,9"),
        (1234567, "bn", 0, "১২,৩৪,৫৬৭"),
        (0.5, "en", 0, "1"),  # half-up, not banker's rounding
        (2.5, "vi", 0, "3"),
        (-3.25, "en", 1, "\u22123.3"),
        (999.95, "vi", 1, "1.000,0"),
        (12, "sw", 2, "12.00"),
    ],
)
def test_fmt_number(x, lang, decimals, expected):
    assert i18n.fmt_number(x, lang, decimals) == expected


def test_fmt_percent_uses_decimal_value_not_binary_float():
    assert i18n.fmt_percent(0.285, "en", 1) == "28.5%"  # 0.285*100 == 28.499999...
    assert i18n.fmt_percent(0.125, "vi", 1) == "12,5%"
    assert i18n.fmt_percent(0.125, "en", 0) == "13%"
    assert i18n.fmt_percent(0.031, "en", 1, signed=True) == "+3.1%"
    assert i18n.fmt_percent(float("nan"), "en") == "\u2013"
    assert i18n.fmt_percent(None, "vi") == "\u2013"
    assert i18n.fmt_number(math.inf, "en") == "\u2013"


def test_dim_and_code_labels(project):
    dims, vn = project.dimensions, project.country("VN")
    assert i18n.dim_label(dims, "sex", "vi") == "Giới tính"
    assert i18n.dim_label(dims, "sex×disability", "en") == "Sex × Disability"
    assert i18n.code_label(dims, vn, "sex", "female", "vi") == "Nữ"
    assert i18n.code_label(dims, vn, "region", "north", "vi") == "Miền Bắc"
    assert i18n.code_label(dims, vn, "age_group", "16-24", "en") == "16-24"
    assert (
        i18n.code_label(dims, vn, "sex×disability", "female|with_disability", "en")
        == "Female × With disability"
    )
    assert i18n.code_label(dims, vn, "sex", "", "en") == "All respondents"
    assert i18n.code_label(dims, vn, "sex", float("nan"), "vi") == "Tất cả người trả lời"


def test_unknown_codes_raise_config_errors_naming_the_file(project):
    dims, vn = project.dimensions, project.country("VN")
    with pytest.raises(ConfigError, match="dimensions.yml.*'other'"):
        i18n.code_label(dims, vn, "sex", "other", "en")
    with pytest.raises(ConfigError, match="countries.yml.*'west'"):
        i18n.code_label(dims, vn, "region", "west", "en")
    with pytest.raises(ConfigError, match="not declared"):
        i18n.dim_label(dims, "caste", "en")
    with pytest.raises(ConfigError, match="2 parts"):
        i18n.code_label(dims, vn, "sex×disability×urban_rural", "female|rural", "en")


def test_a_language_no_catalogue_names_gets_its_cldr_autonym():
    """A new country's language (Nepali for NP) must not break the pages that name it."""
    from voicescount.i18n import autonym, t

    assert t("language.ne", "en") == "नेपाली" == autonym("ne")
    assert t("language.vi", "en") == "Tiếng Việt"  # the catalogue's own name wins
    assert autonym("qq") == "qq"  # unknown to CLDR: the code
    with pytest.raises(KeyError):
        t("chapter.no_such_key", "en")
