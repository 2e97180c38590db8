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


def test_t_formats_and_falls_back_to_english():
    assert i18n.t("legend.suppressed", "vi", n=5) == "đã ẩn (n < 5)"
    # sw has no alt.dot yet: English is used
    assert i18n.t("alt.no_data", "sw") == i18n.t("alt.no_data", "en")
    assert i18n.t("legend.caution", "xx") == "use with caution"
    with pytest.raises(KeyError):
        i18n.t("no.such.key", "en")


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
