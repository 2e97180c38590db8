"""The new-country worked example: a Nepal (NP) 2025 adults kit for `voicescount init-cycle`.

Why: the shipped examples (VN, KE, BD) come with a hand-made cycle.yml; this kit is what a
partner really sends for a country the project has never seen: a KoboToolbox XLSForm (groups,
English and Nepali labels, choice *names* such as `no_difficulty`, provinces numbered
`province_1`... with their names as labels, caste/ethnicity, a GPS point and a name question)
and a Kobo XLSX export ("XML values and headers": group paths, `_uuid`, `_validation_status`,
meta) with 60 synthetic rows. Not in data/: the analyst guide walks through putting it into
data/NP/2025/ and drafting the cycle.yml from it (tests/test_scaffold.py does the same).

`python -m tools.examples.new_country [OUT]` writes handbook/examples/new-country/ (or OUT):
forms/adults.xlsx, exports/adults.xlsx and countries-NP.yml (the countries.yml entry to add).
Byte-identical for the seed (fixed zip and document dates; tests compare with a fresh run).
SYNTHETIC: no answer was collected from a real person.
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl

from .generate import save_xlsx

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "handbook" / "examples" / "new-country"
SEED = 20250301
N_ROWS = 60
EN, NE = "label::English (en)", "label::Nepali (ne)"

# (code, English, Nepali, ISO 3166-2) of Nepal's seven provinces, in their official order.
PROVINCES = [
    ("koshi", "Koshi", "कोशी", "NP-P1"),
    ("madhesh", "Madhesh", "मधेश", "NP-P2"),
    ("bagmati", "Bagmati", "बागमती", "NP-P3"),
    ("gandaki", "Gandaki", "गण्डकी", "NP-P4"),
    ("lumbini", "Lumbini", "लुम्बिनी", "NP-P5"),
    ("karnali", "Karnali", "कर्णाली", "NP-P6"),
    ("sudurpashchim", "Sudurpashchim", "सुदूरपश्चिम", "NP-P7"),
]
DISTRICTS = ["Morang", "Dhanusha", "Kathmandu", "Kaski", "Rupandehi", "Surkhet", "Kailali"]

COUNTRY_ENTRY = (
    "# SYNTHETIC EXAMPLE: the countries.yml entry for Nepal, to add under `countries:` in\n"
    "# data/countries.yml before `voicescount init-cycle --country NP`.\n"
    "- iso: NP\n"
    "  name: {en: Nepal, ne: नेपाल}\n"
    "  languages: [en, ne]\n"
    "  regions:\n"
    + "".join(
        f"    - {{code: {c}, name: {{en: {en}, ne: {ne}}}, geocode: {geo}}}\n"
        for c, en, ne, geo in PROVINCES
    )
    + "  youth: {min: 16, max: 40}        # National Youth Policy 2015\n"
    "  age_bands: [16, 25, 35, 45, 60]\n"
)

YES_NO = [("yes", "Yes", "हो"), ("no", "No", "होइन")]
CHOICES: dict[str, list[tuple[str, str, str]]] = {
    "yes_no": YES_NO,
    "province": [
        (f"province_{i + 1}", f"{en} Province", f"{ne} प्रदेश")
        for i, (_c, en, ne, _g) in enumerate(PROVINCES)
    ],  # fmt: skip
    "area_type": [
        ("urban", "Municipality (urban)", "नगरपालिका (सहरी)"),
        ("rural", "Rural municipality", "गाउँपालिका (ग्रामीण)"),
    ],
    "sex": [("female", "Female", "महिला"), ("male", "Male", "पुरुष")],
    "caste": [
        ("brahmin_chhetri", "Hill Brahmin / Chhetri", "पहाडी ब्राह्मण / क्षत्री"),
        ("janajati", "Adivasi Janajati", "आदिवासी जनजाति"),
        ("dalit", "Dalit", "दलित"),
        ("madhesi", "Madhesi", "मधेसी"),
        ("muslim", "Muslim", "मुस्लिम"),
        ("other", "Other", "अन्य"),
        ("prefer_not", "Prefer not to say", "भन्न चाहन्न"),
    ],
    "wg_scale": [
        ("no_difficulty", "No difficulty", "कुनै कठिनाइ छैन"),
        ("some_difficulty", "Some difficulty", "केही कठिनाइ"),
        ("a_lot_of_difficulty", "A lot of difficulty", "धेरै कठिनाइ"),
        ("cannot_do_at_all", "Cannot do at all", "पटक्कै गर्न सक्दिन"),
        ("refused", "Refused", "उत्तर दिन अस्वीकार"),
        ("dont_know", "Don't know", "थाहा छैन"),
    ],
    "education": [
        ("none", "No schooling", "विद्यालय नगएको"),
        ("primary", "Basic (grades 1-5)", "आधारभूत (कक्षा १-५)"),
        ("lower_secondary", "Basic (grades 6-8)", "आधारभूत (कक्षा ६-८)"),
        ("upper_secondary", "Secondary (grades 9-12)", "माध्यमिक (कक्षा ९-१२)"),
        ("tertiary", "Bachelor or higher", "स्नातक वा माथि"),
    ],
}

WG_WORDING = [
    ("difficulty_seeing", "Do you have difficulty seeing, even if wearing glasses?",
     "के तपाईंलाई चस्मा लगाउँदा पनि हेर्न कठिनाइ हुन्छ?"),
    ("difficulty_hearing", "Do you have difficulty hearing, even if using a hearing aid?",
     "के तपाईंलाई श्रवण यन्त्र प्रयोग गर्दा पनि सुन्न कठिनाइ हुन्छ?"),
    ("wg_q3", "Do you have difficulty walking or climbing steps?",
     "के तपाईंलाई हिँड्न वा भर्याङ चढ्न कठिनाइ हुन्छ?"),
    ("difficulty_remembering", "Do you have difficulty remembering or concentrating?",
     "के तपाईंलाई सम्झन वा ध्यान केन्द्रित गर्न कठिनाइ हुन्छ?"),
    ("selfcare", "Do you have difficulty (with self-care such as) washing all over or dressing?",
     "के तपाईंलाई (आफ्नो हेरचाह, जस्तै) पूरै नुहाउन वा लुगा लगाउन कठिनाइ हुन्छ?"),
    ("communication", "Using your usual (customary) language, do you have difficulty "
     "communicating, for example understanding or being understood?",
     "आफ्नो सामान्य भाषा प्रयोग गर्दा, के तपाईंलाई कुराकानी गर्न, जस्तै बुझ्न वा बुझाउन, "
     "कठिनाइ हुन्छ?"),
]  # fmt: skip

# (type, name, English, Nepali); `begin_group x` / `end_group` rows nest the paths.
SURVEY: list[tuple[str, str, str, str]] = [
    ("start", "start", "", ""),
    ("end", "end", "", ""),
    ("today", "today", "", ""),
    ("deviceid", "deviceid", "", ""),
    ("username", "username", "", ""),
    ("begin_group", "intro", "Introduction and consent", "परिचय र सहमति"),
    ("note", "intro_note", "SYNTHETIC EXAMPLE FORM - not a real survey.",
     "नमुना फारम - वास्तविक सर्वेक्षण होइन।"),
    ("text", "enumerator_id", "Enumerator ID", "गणकको परिचय नम्बर"),
    ("select_one yes_no", "consent", "Do you agree to take part in this interview?",
     "के तपाईं यो अन्तर्वार्तामा भाग लिन सहमत हुनुहुन्छ?"),
    ("end_group", "", "", ""),
    ("begin_group", "location", "Location", "स्थान"),
    ("select_one province", "province", "Province", "प्रदेश"),
    ("text", "district", "District", "जिल्ला"),
    ("select_one area_type", "area_type", "Type of local level", "स्थानीय तहको प्रकार"),
    ("integer", "ward_no", "Ward number", "वडा नम्बर"),
    ("text", "cluster_id", "Cluster code (from the sample list)", "क्लस्टर कोड (नमुना सूचीबाट)"),
    ("geopoint", "gps", "Record the location", "स्थान रेकर्ड गर्नुहोस्"),
    ("end_group", "", "", ""),
    ("begin_group", "respondent", "About you", "तपाईंको बारेमा"),
    ("text", "respondent_name", "Respondent's name", "उत्तरदाताको नाम"),
    ("select_one sex", "resp_sex", "Sex", "लिङ्ग"),
    ("integer", "resp_age", "How old are you (completed years)?",
     "तपाईंको उमेर कति हो (पूरा भएका वर्ष)?"),
    ("select_one caste", "caste_ethnicity", "Which caste or ethnic group do you belong to?",
     "तपाईं कुन जात वा जातीय समूहको हुनुहुन्छ?"),
    ("text", "caste_detail", "Name of your caste or ethnic group",
     "तपाईंको जात वा जातीय समूहको नाम"),
    ("text", "phone", "Phone number (for follow-up, optional)",
     "फोन नम्बर (पछि सम्पर्कका लागि, ऐच्छिक)"),
    ("end_group", "", "", ""),
    ("begin_group", "wg", "Difficulties you may have doing certain activities because of a "
     "health problem", "स्वास्थ्य समस्याका कारण केही काम गर्दा हुने कठिनाइहरू"),
    *[("select_one wg_scale", n, en, ne) for n, en, ne in WG_WORDING],
    ("end_group", "", "", ""),
    ("begin_group", "services", "Services and participation", "सेवा र सहभागिता"),
    ("select_one yes_no", "water_basic", "Does your household get drinking water from an "
     "improved source within a 30-minute round trip?",
     "के तपाईंको परिवारले ३० मिनेटभित्र आउजाउ गर्न सकिने सुधारिएको स्रोतबाट खानेपानी पाउँछ?"),
    ("select_one yes_no", "q_social_assist", "In the last 12 months, did you receive any social "
     "assistance (cash or in kind)?",
     "गत १२ महिनामा के तपाईंले कुनै सामाजिक सहायता (नगद वा जिन्सी) पाउनुभयो?"),
    ("select_one education", "education", "What is the highest level of school you completed?",
     "तपाईंले पूरा गर्नुभएको सबैभन्दा माथिल्लो तह कुन हो?"),
    ("select_one yes_no", "training_12m", "In the last 12 months, did you take part in any "
     "education or training?", "गत १२ महिनामा के तपाईंले कुनै शिक्षा वा तालिममा भाग लिनुभयो?"),
    ("select_one yes_no", "q_discriminated", "In the last 12 months, have you personally felt "
     "discriminated against or harassed?",
     "गत १२ महिनामा के तपाईंले व्यक्तिगत रूपमा भेदभाव वा दुर्व्यवहार महसुस गर्नुभयो?"),
    ("text", "q_comment", "Is there anything else you would like to tell us?",
     "तपाईं हामीलाई अरू केही भन्न चाहनुहुन्छ?"),
    ("end_group", "", "", ""),
    ("begin_group", "design", "Sample design (calculated)", "नमुना ढाँचा (गणना गरिएको)"),
    ("calculate", "stratum", "", ""),
    ("calculate", "sampling_weight", "", ""),
    ("end_group", "", "", ""),
]  # fmt: skip

META = ["_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
        "_submitted_by", "__version__", "_tags", "_index"]  # fmt: skip


def write_form(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", EN, NE, "required", "calculation"])
    for qtype, name, en, ne in SURVEY:
        calc = {"stratum": "concat(${province}, '-', ${area_type})"}.get(name)
        if name == "sampling_weight":
            calc = "pulldata('weights', 'weight', 'cluster', ${cluster_id})"
        req = "true" if qtype.startswith(("select", "integer")) else None
        ws.append([qtype, name or None, en or None, ne or None, req, calc])
    wc = wb.create_sheet("choices")
    wc.append(["list_name", "name", EN, NE])
    for list_name, items in CHOICES.items():
        for name, en, ne in items:
            wc.append([list_name, name, en, ne])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "default_language"])
    st.append(["[SYNTHETIC] Nepal citizen voices survey 2025 - adults", "np_adults_2025",
               "2025.1", "English (en)"])  # fmt: skip
    save_xlsx(wb, path)


def _paths() -> list[tuple[str, str]]:
    """(export header, type) of every exported question, in form order (Kobo group paths)."""
    out, stack = [], []
    for qtype, name, _en, _ne in SURVEY:
        if qtype == "begin_group":
            stack.append(name)
        elif qtype == "end_group":
            stack.pop()
        elif qtype != "note":
            out.append(("/".join([*stack, name]), qtype))
    return out


def rows(rng: np.random.Generator) -> tuple[list[str], list[list]]:
    headers: list[str] = []
    for path, qtype in _paths():
        headers.append(path)
        if qtype == "geopoint":
            headers += [f"_{path}_{p}" for p in ("latitude", "longitude", "altitude", "precision")]
    headers += META
    out = []
    t0 = datetime(2025, 3, 10, 9, 0, 0)
    for i in range(N_ROWS):
        p = int(rng.integers(0, 7))
        area = "urban" if rng.random() < 0.4 else "rural"
        cluster = f"C{p + 1}{int(rng.integers(1, 5)):02d}"
        start = t0 + timedelta(days=int(i // 4), minutes=int(rng.integers(0, 480)))
        end = start + timedelta(minutes=int(rng.integers(18, 55)))
        lat, lon = 26.5 + 3 * rng.random(), 80.2 + 7.8 * rng.random()
        sex = "female" if rng.random() < 0.55 else "male"
        caste = rng.choice([c for c, _e, _n in CHOICES["caste"]],
                           p=[0.3, 0.33, 0.12, 0.12, 0.05, 0.05, 0.03])  # fmt: skip
        wg_p = [0.8, 0.12, 0.04, 0.02, 0.01, 0.01]
        status = rng.choice(["Approved", None, "On Hold"], p=[0.75, 0.2, 0.05])
        rec: dict[str, object] = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%S.000+05:45"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%S.000+05:45"),
            "today": start.strftime("%Y-%m-%d"),
            "deviceid": f"collect:{rng.integers(10**11, 10**12):x}",
            "username": f"enum{int(rng.integers(1, 9))}",
            "intro/enumerator_id": f"E{int(rng.integers(1, 9)):02d}",
            "intro/consent": "yes",
            "location/province": f"province_{p + 1}",
            "location/district": DISTRICTS[p],
            "location/area_type": area,
            "location/ward_no": int(rng.integers(1, 15)),
            "location/cluster_id": cluster,
            "location/gps": f"{lat:.6f} {lon:.6f} {1200 * rng.random():.1f} 5.0",
            "_location/gps_latitude": round(lat, 6),
            "_location/gps_longitude": round(lon, 6),
            "_location/gps_altitude": None,
            "_location/gps_precision": 5.0,
            "respondent/respondent_name": f"Synthetic Person {i + 1:03d}",
            "respondent/resp_sex": sex,
            "respondent/resp_age": int(rng.integers(16, 80)),
            "respondent/caste_ethnicity": str(caste),
            "respondent/caste_detail": None if caste == "prefer_not" else str(caste).title(),
            "respondent/phone": f"+977 98{int(rng.integers(0, 10**8)):08d}",
            "services/water_basic": "yes" if rng.random() < 0.8 else "no",
            "services/q_social_assist": "yes" if rng.random() < 0.25 else "no",
            "services/education": str(rng.choice([c for c, _e, _n in CHOICES["education"]])),
            "services/training_12m": "yes" if rng.random() < 0.2 else "no",
            "services/q_discriminated": "yes" if rng.random() < 0.3 else "no",
            "services/q_comment": None,
            "design/stratum": f"province_{p + 1}-{area}",
            "design/sampling_weight": round(float(800 + 600 * rng.random()), 2),
            "_id": 41000000 + i,
            "_uuid": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            "_submission_time": (end + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S"),
            "_validation_status": status,
            "_notes": None,
            "_status": "submitted_via_web",
            "_submitted_by": f"np_team{int(rng.integers(1, 3))}",
            "__version__": "vNp2025a",
            "_tags": None,
            "_index": i + 1,
        }
        for name, _en, _ne in WG_WORDING:
            rec[f"wg/{name}"] = str(rng.choice([c for c, _e, _n in CHOICES["wg_scale"]], p=wg_p))
        out.append([rec.get(h) for h in headers])
    return headers, out


def write_export(path: Path, seed: int = SEED) -> None:
    headers, data = rows(np.random.default_rng(seed))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Nepal citizen voices survey..."[:31]
    ws.append(headers)
    for r in data:
        ws.append(r)
    save_xlsx(wb, path)


def generate(out: Path = OUT) -> list[Path]:
    """Write the kit into `out`; returns the files written."""
    files = [out / "forms" / "adults.xlsx", out / "exports" / "adults.xlsx",
             out / "countries-NP.yml"]  # fmt: skip
    write_form(files[0])
    write_export(files[1])
    files[2].write_text(COUNTRY_ENTRY, encoding="utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for f in generate(Path(args[0]) if args else OUT):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
