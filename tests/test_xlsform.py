"""XLSForm codebooks: the dialects partners' forms come in, read into one Codebook."""

from __future__ import annotations

import json

import openpyxl
import pytest

from voicescount.errors import InputError, VoicesError
from voicescount.xlsform import (
    build_codebook,
    codebook_from_json,
    normalise_language,
    parse_type,
    read_form,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("select_one yes_no", ("select_one", "yes_no", False)),
        ("select one from yes_or_no", ("select_one", "yes_or_no", False)),
        ("select one from sexes or specify other", ("select_one", "sexes", True)),
        ("select_one sexes or_other", ("select_one", "sexes", True)),
        ("select_multiple  eatery_types", ("select_multiple", "eatery_types", False)),
        ("select all that apply from Foods", ("select_multiple", "Foods", False)),
        ("select_one_from_file villages.csv", ("select_one", "villages.csv", False)),
        ("select_multiple", ("select_multiple", None, False)),
        ("begin group", ("begin_group", None, False)),
        ("End Repeat", ("end_repeat", None, False)),
        ("phone number", ("phonenumber", None, False)),
        ("gps", ("geopoint", None, False)),
        ("integer", ("integer", None, False)),
    ],
)
def test_parse_type(raw, expected):
    assert parse_type(raw) == expected


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("English (en)", "en"),
        ("english", "en"),
        ("Español", "es"),
        ("Français", "fr"),
        ("Tiếng Việt", "vi"),
        ("Vietnamese (vi)", "vi"),
        ("Kiswahili", "sw"),
        ("vi", "vi"),
        ("Klingon", "Klingon"),
        (None, "und"),
    ],
)
def test_normalise_language(name, code):
    assert normalise_language(name) == code


def _write_form(path, survey, choices=None, settings=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    if choices:
        wc = wb.create_sheet("choices")
        for row in choices:
            wc.append(row)
    if settings:
        wst = wb.create_sheet("settings")
        for row in settings:
            wst.append(row)
    wb.save(path)
    return path


def test_xlsx_form_with_groups_repeats_and_languages(tmp_path):
    form = _write_form(
        tmp_path / "adults.xlsx",
        [
            ["type", "name", "label::English (en)", "label::Tiếng Việt (vi)"],
            ["begin group", "demo", "About you", "Về bạn"],
            ["select_one sex", "sex", "Sex", "Giới tính"],
            ["integer", "age", "Age", "Tuổi"],
            ["end group", None, None, None],
            ["begin_repeat", "members", "Members", "Thành viên"],
            ["select_multiple  water", "water", "Water sources", "Nguồn nước"],
            ["geopoint", "home", "Home", "Nhà"],
            ["end_repeat", None, None, None],
            [None, None, None, None],
        ],
        [
            ["list_name", "name", "label::English (en)", "label::Tiếng Việt (vi)"],
            ["sex", 1, "Male", "Nam"],
            ["sex", 2, "Female", "Nữ"],
            ["water", "tap", "Tap", "Nước máy"],
            ["water", "well", "Well", "Giếng"],
        ],
        [["form_title", "default_language"], ["Adults", "English (en)"]],
    )
    cb = read_form(form)
    assert cb.languages == ["en", "vi"]
    sex = cb.question("sex")
    assert (sex.path, sex.type, sex.list_name, sex.select, sex.groups) == (
        "demo/sex",
        "select_one",
        "sex",
        "one",
        ("demo",),
    )
    assert cb.question("demo/sex") is sex and cb.question("demo-sex") is sex
    assert cb.question("water").repeat == "members"
    assert cb.question("water").select == "multiple"
    assert cb.question("home").identifying
    assert [q.name for q in cb.identifying_questions()] == ["home"]
    assert [q.name for q in cb.repeats()] == ["members"]
    assert cb.label("sex", "vi") == "Giới tính"
    assert cb.label("sex", "bn") == "Sex"  # falls back to English
    assert cb.choice_label("sex", 2, "vi") == "Nữ"
    assert cb.choice_label("sex", 2.0, "en") == "Female"
    assert cb.choice_label("sex", 9, "en") == "9"
    assert cb.label_to_code("sex")["nữ"] == "2"
    assert list(cb.choice_list("water")) == ["tap", "well"]
    assert cb.settings["form_title"] == "Adults"


def test_translated_json_labels():
    cb = codebook_from_json(
        {
            "content": {
                "translations": [None, "Tiếng Việt (vi)"],
                "settings": {"default_language": "English (en)"},
                "survey": [
                    {
                        "type": "select_one",
                        "select_from_list_name": "yn",
                        "name": "ok",
                        "label": ["OK?", "Được không?"],
                    }
                ],
                "choices": [{"list_name": "yn", "name": "1", "label": ["Yes", "Có"]}],
            }
        }
    )
    assert cb.languages == ["en", "vi"]
    assert cb.choice_label("ok", "1", "vi") == "Có"
    assert cb.label("ok", "en") == "OK?"


def test_plain_label_without_language_is_undetermined():
    cb = build_codebook([{"type": "text", "name": "x", "label": "X?"}])
    assert cb.languages == ["und"]
    assert cb.label("x", "vi") == "X?"
    assert cb.label("missing", "en") == "missing"


def test_or_other_adds_other_choice():
    cb = build_codebook(
        [{"type": "select_one s or_other", "name": "s", "label": "S"}],
        [{"list_name": "s", "name": "a", "label": "A"}],
    )
    assert list(cb.choice_list("s")) == ["a", "other"]
    assert cb.question("s").or_other


# ---------------------------------------------------------------------- bad forms


def test_form_missing(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_form(tmp_path / "nope.xlsx")


def test_form_without_survey_sheet(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "data"
    wb.save(tmp_path / "f.xlsx")
    with pytest.raises(InputError, match="no 'survey' sheet") as exc:
        read_form(tmp_path / "f.xlsx")
    assert exc.value.exit_code == 2


def test_form_truncated_and_encrypted(tmp_path):
    good = _write_form(tmp_path / "g.xlsx", [["type", "name"], ["text", "a"]])
    blob = good.read_bytes()
    (tmp_path / "t.xlsx").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match="truncated"):
        read_form(tmp_path / "t.xlsx")
    (tmp_path / "e.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(InputError, match="password"):
        read_form(tmp_path / "e.xlsx")


def test_form_bad_json_and_extension(tmp_path):
    (tmp_path / "f.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="JSON"):
        read_form(tmp_path / "f.json")
    (tmp_path / "g.json").write_text(json.dumps({"content": {"x": 1}}), encoding="utf-8")
    with pytest.raises(InputError, match="survey"):
        read_form(tmp_path / "g.json")
    (tmp_path / "f.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(VoicesError, match=r"\.xls"):
        read_form(tmp_path / "f.xls")
    (tmp_path / "f.ods").write_bytes(b"x")
    with pytest.raises(InputError, match="not a form format"):
        read_form(tmp_path / "f.ods")


# ---------------------------------------------------------------------- real forms


def test_pyxform_examples(shared_reference):
    k = shared_reference / "kobo"
    yes_no = read_form(k / "pyxform__yes_or_no_question" / "yes_or_no_question.xlsx")
    assert yes_no.question("good_day").list_name == "yes_or_no"
    assert yes_no.languages == ["en"]
    assert yes_no.choice_label("good_day", "no", "en") == "no"

    other = read_form(k / "pyxform__specify_other" / "specify_other.xlsx")
    sex = other.question("sex")
    assert (sex.type, sex.list_name, sex.or_other) == ("select_one", "sexes", True)
    assert list(other.choice_list("sex")) == ["male", "female", "other"]
    assert other.choice_label("sex", "female", "en") == "Female"

    group = read_form(k / "pyxform__group" / "group.xlsx")
    assert group.languages == ["en"]
    assert group.question("age").path == "father/age"
    assert group.question("phone_number").identifying
    assert group.label("age", "en") == "How old is your father?"
    assert group.choices == {}


def test_formpack_forms(shared_reference):
    k = shared_reference / "kobo"
    forms = sorted(k.glob("formpack__*/v*.json"))
    assert len(forms) == 11
    for path in forms:
        cb = read_form(path)
        assert cb.questions, path
        for q in cb.questions.values():
            if q.select:
                assert q.list_name in cb.choices, (path, q.name)

    gt = read_form(k / "formpack__grouped_translated" / "v1.json")
    assert gt.languages == ["en", "es"]
    q = gt.question("What_kind_of_symmetry_do_you_have")
    assert q.path == "external_characteristics/What_kind_of_symmetry_do_you_have"
    assert q.select == "multiple"
    assert gt.choice_label(q.name, "spherical", "es") == "Esférico"

    long = read_form(k / "formpack__long_unicode_labels" / "v1.json")
    assert long.languages == ["sw", "en", "fr"]
    assert long.label("What_is_your_age", "fr") == "Quel âge avez-vous?"

    v2 = read_form(k / "formpack__restaurant_profile" / "v2.json")
    assert v2.languages == ["en", "fr"]
    assert v2.label("location", "fr") == "lieu"
    assert v2.question("location").identifying
    v4 = read_form(k / "formpack__restaurant_profile" / "v4.json")
    assert v4.question("eatery_type").select == "multiple"

    coffee1 = read_form(k / "formpack__favorite_coffee" / "v1.json")
    coffee2 = read_form(k / "formpack__favorite_coffee" / "v2.json")
    assert "italian" in coffee1.choice_list("favorite_coffee_type")
    assert list(coffee2.choice_list("favorite_coffee_type")) == ["french", "american", "british"]

    nest = read_form(k / "formpack__nested_grouped_repeatable" / "v1.json")
    assert [r.name for r in nest.repeats()] == ["group_tree", "group_nest", "group_egg"]
    assert nest.question("Describe_the_egg").repeat == "group_egg"
    assert (
        nest.question("Describe_the_egg").path == "group_tree/group_nest/group_egg/Describe_the_egg"
    )


def test_kobo_downloaded_forms(shared_reference):
    k = shared_reference / "kobo"
    meeting = read_form(k / "kobo-transfer__meeting_form" / "aLcg7HtfpBHyCsyNmRvqme.xlsx")
    assert meeting.question("Discussion_rating").path == (
        "topics_discussed/topic_details/Discussion_rating"
    )
    assert meeting.question("Session_number").repeat == "feedback"
    assert meeting.choice_label("Session_number", "session_3__october_15") == (
        "Session 3 (October 15)"
    )
    geo = read_form(k / "kobo-transfer__geolocation_test" / "aF63GwUngXUuysbHQ2oaKy.xlsx")
    assert sorted(q.name for q in geo.identifying_questions()) == [
        "Record_a_line",
        "Record_a_line_001",
        "Record_your_current_location",
    ]
