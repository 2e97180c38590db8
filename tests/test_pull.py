"""`voicescount pull`: fetching KoboToolbox and ODK Central forms and submissions.

A local threaded HTTP server replays the recorded API answers of tests/fixtures/pull/ (shaped
like the real KoboToolbox v2 and ODK Central v1 APIs: paging with `next` links and counts,
401/404 bodies, 429 with Retry-After, a changed form version) and records every request, so
the tests can check the auth header, that every page was fetched and that nothing went
elsewhere. `{base}` in a fixture is replaced by the server's address when served.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from voicescount import cli
from voicescount import pull as pull_module
from voicescount.errors import ConfigError, VoicesError
from voicescount.intake import read_instrument
from voicescount.pull import HttpOptions, ServerError, flatten_odata, pull, server_settings
from voicescount.registry import Cycle, Project, load_model

FIXTURES = Path(__file__).parent / "fixtures" / "pull"
KOBO_TOKEN = "kobo-test-token-5f2b9c1e0d"
ODK_TOKEN = "lSpAIeksRu1CNZs7!qjAot2T17dPzkrw9B4iTtpj7OoIJBmXvnHM8z8Ka4QPEjR7"  # session.json
ODK_PASSWORD = "correct horse battery staple"
WHEN = datetime(2026, 12, 3, 10, 15, 0, tzinfo=UTC)


# ====================================================================== the replaying server


def _canonical(target: str) -> str:
    """Path + sorted query, so `?a=1&b=2` and `?b=2&a=1` (and %24 vs $) are one route."""
    parts = urllib.parse.urlsplit(target)
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return parts.path + ("?" + urllib.parse.urlencode(query) if query else "")


class Replay:
    """Serves `routes[(method, canonical target)]`: a list of answers, given in turn (the last
    one repeats). An answer is (status, fixture name or bytes, headers, delay seconds)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[tuple]] = {}
        self.requests: list[dict] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = (method, _canonical(self.path))
                replay.requests.append(
                    {
                        "method": method,
                        "target": key[1],
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                answers = replay.routes.get(key)
                if not answers:
                    status, blob, headers, delay = 404, b'{"detail": "Not found."}', {}, 0
                else:
                    status, blob, headers, delay = (
                        answers.pop(0) if len(answers) > 1 else answers[0]
                    )
                if delay:
                    time.sleep(delay)
                data = blob if isinstance(blob, bytes) else (FIXTURES / blob).read_bytes()
                data = data.replace(b"{base}", replay.base.encode())
                try:
                    self.send_response(status)
                    ctype = headers.get("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        if k != "Content-Type":
                            self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def do_GET(self):  # noqa: N802
                self._answer("GET")

            def do_POST(self):  # noqa: N802
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def route(self, method: str, target: str, *answers) -> None:
        self.routes[(method, _canonical(target))] = [
            a if isinstance(a, tuple) else (200, a, {}, 0) for a in answers
        ]

    def targets(self, method: str = "GET") -> list[str]:
        return [r["target"] for r in self.requests if r["method"] == method]


@pytest.fixture
def replay():
    r = Replay()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


KOBO_ASSET = "/api/v2/assets/aBcD123/?format=json"
KOBO_PAGE1 = "/api/v2/assets/aBcD123/data/?format=json&limit=2&start=0"
KOBO_PAGE2 = "/api/v2/assets/aBcD123/data/?format=json&limit=2&start=2"
ODK_FORM = "/v1/projects/3/forms/adults_2025"
ODK_PAGE1 = ODK_FORM + ".svc/Submissions?$top=2&$count=true&$expand=*"
ODK_PAGE2 = ODK_PAGE1 + "&$skiptoken=01eyJpbnN0YW5jZUlkIjoidXVpZDo1MGQyOWZiMSJ9"


def kobo_routes(r: Replay, asset="kobo/asset.json", pages=("data_page1", "data_page2")) -> None:
    r.route("GET", KOBO_ASSET, asset)
    r.route("GET", KOBO_PAGE1, f"kobo/{pages[0]}.json")
    r.route("GET", KOBO_PAGE2, f"kobo/{pages[1]}.json")


def xlsform_bytes() -> bytes:
    """The ODK form's XLSForm as Central serves it (built from odk/xlsform.json)."""
    import openpyxl

    spec = json.loads((FIXTURES / "odk" / "xlsform.json").read_text(encoding="utf-8"))
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet, rows in spec.items():
        ws = wb.create_sheet(sheet)
        headers = list(dict.fromkeys(k for row in rows for k in row))
        ws.append(headers)
        for row in rows:
            ws.append([row.get(h) for h in headers])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def odk_routes(r: Replay, form="odk/form.json") -> None:
    r.route("POST", "/v1/sessions", "odk/session.json")
    r.route("GET", ODK_FORM, form)
    r.route("GET", ODK_FORM + ".xlsx", (200, xlsform_bytes(), {"Content-Type": XLSX}, 0))
    r.route("GET", ODK_PAGE1, "odk/submissions_page1.json")
    r.route("GET", ODK_PAGE2, "odk/submissions_page2.json")


# ====================================================================== the cycle


def write_cycle(project: Project, source: str | None, form: str | None = None) -> Path:
    """data/ZZ/2025/cycle.yml with instrument `adults` (its export not pulled yet)."""
    cdir = project.cycle_dir("ZZ", 2025)
    cdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "country: ZZ",
        "cycle: 2025",
        "synthetic: true",
        "languages: [en, vi]",
        "sdgs: [1, 5]",
        "instruments:",
        "  adults:",
        "    label: {en: Adults}",
        "    population: adults",
        "    data: exports/adults.json",
        "    format: kobo-json",
        "    mapping: {sex: demo/sex, age: demo/age}",
        "    codes: {consent: {'yes': true, 'no': false}}",
    ]
    if form:
        lines.append(f"    form: {form}")
    if source:
        lines.append(f"    source: {source}")
    (cdir / "cycle.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cdir


def kobo_env(r: Replay, token: str = KOBO_TOKEN) -> dict[str, str]:
    return {"VOICESCOUNT_KOBO_URL": r.base, "VOICESCOUNT_KOBO_TOKEN": token}


def odk_env(r: Replay) -> dict[str, str]:
    return {
        "VOICESCOUNT_ODK_URL": r.base,
        "VOICESCOUNT_ODK_EMAIL": "analyst@example.org",
        "VOICESCOUNT_ODK_PASSWORD": ODK_PASSWORD,
    }


FAST = HttpOptions(timeout=5.0, retries=2, backoff=0.0, page_size=2)


def pull_kobo(project, r, when=WHEN, options=FAST, **kw):
    kw.setdefault("env", kobo_env(r))
    return pull(project, "kobo", "ZZ", 2025, "adults", options=options, now=when, **kw)


def pull_odk(project, r, when=WHEN, options=FAST, **kw):
    kw.setdefault("env", odk_env(r))
    return pull(project, "odk", "ZZ", 2025, "adults", options=options, now=when, **kw)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def use_pull(project: Project, cdir: Path, export: Path, form: Path) -> Cycle:
    """cycle.yml pointed at the pulled files (what the analyst does after a first pull)."""
    path = cdir / "cycle.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("data: exports/adults.json", f"data: exports/{export.name}")
    text = text.replace(
        "    format: kobo-json\n", f"    format: kobo-json\n    form: forms/{form.name}\n"
    )
    path.write_text(text, encoding="utf-8")
    return project.cycle("ZZ", 2025)


# ====================================================================== success


def test_kobo_pull_writes_new_files_with_sidecars_that_intake_reads(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    res = pull_kobo(tiny_project, replay)

    export = cdir / "exports" / "adults-20261203T101500Z.json"
    form = cdir / "forms" / "adults-vQx8kLmN3pRsTuVw.json"
    assert (res.export, res.form) == (export, form)
    assert res.export_written and res.form_written
    assert (res.submissions, res.pages, res.form_version) == (3, 2, "vQx8kLmN3pRsTuVw")
    # every page fetched, in order, each with the token; nothing else asked
    assert replay.targets() == [_canonical(t) for t in (KOBO_ASSET, KOBO_PAGE1, KOBO_PAGE2)]
    assert {r["headers"]["Authorization"] for r in replay.requests} == {f"Token {KOBO_TOKEN}"}

    data = json.loads(export.read_text(encoding="utf-8"))
    assert data["count"] == 3 and [s["_id"] for s in data["results"]] == [101, 102, 103]
    side = json.loads((export.parent / (export.name + ".pull.json")).read_text(encoding="utf-8"))
    assert side["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    assert side | {"voicescount": "x"} == side | {
        "kind": "export",
        "file": export.name,
        "server": "kobo",
        "url": replay.base,
        "asset": "aBcD123",
        "form_version": "vQx8kLmN3pRsTuVw",
        "fetched_at": "2026-12-03T10:15:00Z",
        "submissions": 3,
        "pages": 2,
        "format": "kobo-json",
        "voicescount": "x",
    }
    assert side["voicescount"]
    fside = json.loads((form.parent / (form.name + ".pull.json")).read_text(encoding="utf-8"))
    assert fside["kind"] == "form" and fside["form_version"] == "vQx8kLmN3pRsTuVw"
    assert "cycle.yml reads `data: exports/adults.json`" in res.summary()

    # intake reads the pulled export and form as they are
    cyc = use_pull(tiny_project, cdir, export, form)
    got = read_instrument(tiny_project, cyc, "adults")
    assert got.data["respondent_id"].tolist() == [s["_uuid"] for s in data["results"]]
    assert got.data["sex"].tolist() == ["female", "male", "female"]
    assert got.data["age"].tolist() == [19, 44, 67]
    assert got.codebook.question("sex").labels["en"] == "Sex"
    assert "_submitted_by" in got.removed_identifiers


def test_odk_pull_logs_in_flattens_odata_and_intake_reads_it(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: odk, project: 3, form: adults_2025}")
    odk_routes(replay)
    res = pull_odk(tiny_project, replay)

    assert (res.submissions, res.pages, res.form_version) == (3, 2, "2025.1")
    assert res.form == cdir / "forms" / "adults-2025.1.xlsx"
    assert res.form.read_bytes()[:2] == b"PK"
    login, *rest = replay.requests
    assert login["method"] == "POST" and login["target"] == "/v1/sessions"
    assert json.loads(login["body"]) == {"email": "analyst@example.org", "password": ODK_PASSWORD}
    assert "Authorization" not in login["headers"]
    assert [r["target"] for r in rest] == [
        _canonical(t) for t in (ODK_FORM, ODK_FORM + ".xlsx", ODK_PAGE1, ODK_PAGE2)
    ]
    assert {r["headers"]["Authorization"] for r in rest} == {f"Bearer {ODK_TOKEN}"}

    rows = json.loads(res.export.read_text(encoding="utf-8"))["results"]
    first = rows[0]
    assert first["KEY"] == "uuid:4fc18ea0-5b6d-4e7f-9a01-bc0d9e8f7a65"
    assert first["meta/instanceID"] == first["KEY"] and first["demo/sex"] == "female"
    assert first["SubmissionDate"] == "2025-03-02T04:21:10.512Z"
    assert first["household"] == [{"household/member_age": 4}, {"household/member_age": 41}]
    assert not any("@odata" in k or k.startswith("__") for r in rows for k in r)
    side = json.loads(res.export.with_name(res.export.name + ".pull.json").read_text("utf-8"))
    assert (side["project"], side["form"], side["pages"]) == (3, "adults_2025", 2)

    cyc = use_pull(tiny_project, cdir, res.export, res.form)
    got = read_instrument(tiny_project, cyc, "adults")
    assert got.data["respondent_id"].tolist() == [r["KEY"] for r in rows]
    assert got.data["validation_status"].tolist()[1] == "approved"
    assert got.data["age"].tolist() == [19, 44, 67]
    assert len(got.repeats["household"]) == 3
    assert got.codebook.question("member_age").repeat == "household"
    assert {"SubmitterName", "SubmitterID", "DeviceID"} <= set(got.removed_identifiers)


def test_flatten_odata_groups_geojson_and_repeats():
    rec = {
        "__id": "uuid:1",
        "g": {"a": 1, "inner": {"b": 2}, "pt": {"type": "Point", "coordinates": [85.3, 27.7]}},
        "rep@odata.navigationLink": "Submissions('uuid%3A1')/rep",
        "rep": [{"__id": "x", "c": 3, "sub": {"d": 4}}],
        "empty": [],
    }
    assert flatten_odata(rec) == {
        "KEY": "uuid:1",
        "g/a": 1,
        "g/inner/b": 2,
        "g/pt": {"type": "Point", "coordinates": [85.3, 27.7]},
        "rep": [{"rep/c": 3, "rep/sub/d": 4}],
        "empty": [],
    }


# ====================================================================== never overwrite


def test_second_identical_pull_writes_nothing(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    first = pull_kobo(tiny_project, replay)
    before = snapshot(cdir)
    again = pull_kobo(tiny_project, replay, when=datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
    assert snapshot(cdir) == before
    assert not again.export_written and not again.form_written
    assert again.export == first.export
    assert "unchanged" in again.summary()


def test_new_data_makes_a_new_file_and_leaves_the_old_one(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    first = pull_kobo(tiny_project, replay)
    before = snapshot(cdir)
    kobo_routes(replay, pages=("more_page1", "more_page2"))
    later = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    second = pull_kobo(tiny_project, replay, when=later)
    assert second.export_written and second.submissions == 4
    assert second.export.name == "adults-20261204T080000Z.json" != first.export.name
    after = snapshot(cdir)
    assert {k: after[k] for k in before} == before  # every earlier file byte-identical
    assert set(after) - set(before) == {
        "exports/adults-20261204T080000Z.json",
        "exports/adults-20261204T080000Z.json.pull.json",
    }


def test_same_second_name_clash_with_other_content_is_refused(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    pull_kobo(tiny_project, replay)
    before = snapshot(cdir)
    kobo_routes(replay, pages=("more_page1", "more_page2"))
    with pytest.raises(ConfigError, match=r"different content.*count, results") as err:
        pull_kobo(tiny_project, replay)
    assert "adults-20261203T101500Z.json" in str(err.value)
    assert snapshot(cdir) == before


def test_changed_form_version_is_reported_with_what_to_change(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    first = pull_kobo(tiny_project, replay)
    use_pull(tiny_project, cdir, first.export, first.form)
    before = snapshot(cdir)
    kobo_routes(replay, asset="kobo/asset_v2.json")
    res = pull_kobo(tiny_project, replay, when=datetime(2026, 12, 5, tzinfo=UTC))
    text = res.summary()
    assert res.form.name == "adults-vZz9aBcD4eFgHiJk.json" and res.form_written
    assert "FORM VERSION CHANGED" in text and "vQx8kLmN3pRsTuVw" in text
    assert "cycle.yml still uses form forms/adults-vQx8kLmN3pRsTuVw.json" in text
    assert "`instruments.adults.form: forms/adults-vZz9aBcD4eFgHiJk.json`" in text
    # the export is the same submissions: not written again, and the old form is kept
    assert not res.export_written
    after = snapshot(cdir)
    assert {k: after[k] for k in before} == before
    v2 = json.loads(res.form.read_text(encoding="utf-8"))
    assert any(q.get("name") == "disability_seeing" for q in v2["content"]["survey"])


def test_kobo_undeployed_edits_pull_the_deployed_version(tiny_project, replay):
    """An asset edited but not redeployed: `content` is the draft; the form written is the
    deployed version's (from …/versions/<deployed>/), the one the submissions used."""
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    asset = json.loads((FIXTURES / "kobo" / "asset.json").read_text(encoding="utf-8"))
    deployed = {"uid": asset["deployed_version_id"], "content": asset["content"]}
    deployed |= {"content_hash": "3f1a2b3pRs", "date_deployed": "2025-03-01 09:31:00"}
    draft = json.loads((FIXTURES / "kobo" / "asset_v2.json").read_text(encoding="utf-8"))
    asset["version_id"], asset["content"] = draft["version_id"], draft["content"]
    kobo_routes(replay)
    replay.route("GET", KOBO_ASSET, (200, json.dumps(asset).encode(), {}, 0))
    replay.route(
        "GET",
        "/api/v2/assets/aBcD123/versions/vQx8kLmN3pRsTuVw/?format=json",
        (200, json.dumps(deployed).encode(), {}, 0),
    )
    res = pull_kobo(tiny_project, replay)
    form = json.loads(res.form.read_text(encoding="utf-8"))
    assert res.form.name == "adults-vQx8kLmN3pRsTuVw.json"
    assert form["content"] == deployed["content"] and form["version_id"] == "vQx8kLmN3pRsTuVw"
    assert "undeployed edits (version vZz9aBcD4eFgHiJk)" in res.summary()


# ====================================================================== failures


def test_bad_token_is_one_error_without_the_token(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    replay.route("GET", KOBO_ASSET, (401, "kobo/401.json", {}, 0))
    with pytest.raises(ServerError) as err:
        pull_kobo(tiny_project, replay, env=kobo_env(replay, token="wrong-token-123"))
    msg = str(err.value)
    assert "refused the credentials (HTTP 401: Invalid token.)" in msg
    assert replay.base in msg and "VOICESCOUNT_KOBO_TOKEN" in msg
    assert "wrong-token-123" not in msg
    assert len(replay.requests) == 1  # not retried
    assert not (cdir / "exports").exists() and not (cdir / "forms").exists()


def test_odk_bad_password_is_reported(tiny_project, replay):
    write_cycle(tiny_project, "{server: odk, project: 3, form: adults_2025}")
    replay.route("POST", "/v1/sessions", (401, "odk/401.json", {}, 0))
    with pytest.raises(ServerError, match="Could not authenticate") as err:
        pull_odk(tiny_project, replay)
    assert ODK_PASSWORD not in str(err.value) and "VOICESCOUNT_ODK_EMAIL" in str(err.value)


def test_unknown_asset_is_404_with_the_fix(tiny_project, replay):
    cdir = write_cycle(tiny_project, None)
    with pytest.raises(ServerError, match=r"/api/v2/assets/nOpE999/.*HTTP 404: Not found") as err:
        pull_kobo(tiny_project, replay, asset="nOpE999")
    assert "--asset" in str(err.value)
    assert not (cdir / "exports").exists()


def test_network_error_on_a_closed_port(tiny_project):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept = []
    opts = HttpOptions(timeout=2, retries=2, backoff=0.5, sleep=slept.append)
    env = {"VOICESCOUNT_KOBO_URL": f"http://127.0.0.1:{port}", "VOICESCOUNT_KOBO_TOKEN": "t"}
    with pytest.raises(ServerError, match=r"cannot be reached.*after 3 attempt") as err:
        pull(tiny_project, "kobo", "ZZ", 2025, "adults", env=env, options=opts)
    assert f"127.0.0.1:{port}" in str(err.value)
    assert slept == [0.5, 1.0]  # exponential backoff
    assert not (cdir / "exports").exists()


def test_timeout_is_retried_then_reported(tiny_project, replay):
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    replay.route("GET", KOBO_ASSET, (200, "kobo/asset.json", {}, 1.5))
    opts = HttpOptions(timeout=0.3, retries=1, backoff=0.0, page_size=2)
    t0 = time.monotonic()
    with pytest.raises(ServerError, match=r"did not answer within 0.3 s, after 2 attempt"):
        pull_kobo(tiny_project, replay, options=opts)
    assert time.monotonic() - t0 < 1.4  # gave up instead of waiting for the answer
    assert len(replay.requests) == 2


def test_rate_limit_429_waits_retry_after_then_succeeds(tiny_project, replay):
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    replay.route(
        "GET",
        KOBO_PAGE2,
        (429, "kobo/429.json", {"Retry-After": "7"}, 0),
        (200, "kobo/data_page2.json", {}, 0),
    )
    slept = []
    opts = HttpOptions(timeout=5, retries=2, backoff=0.0, page_size=2, sleep=slept.append)
    res = pull_kobo(tiny_project, replay, options=opts)
    assert slept == [7.0] and res.submissions == 3 and res.export_written
    assert replay.targets().count(_canonical(KOBO_PAGE2)) == 2


def test_rate_limit_beyond_the_cap_is_refused(tiny_project, replay):
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    replay.route("GET", KOBO_ASSET, (429, "kobo/429.json", {"Retry-After": "3600"}, 0))
    with pytest.raises(ServerError, match=r"asks to wait 3600 s, more than 60 s"):
        pull_kobo(tiny_project, replay)


def test_500_mid_pagination_writes_nothing(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    replay.route(
        "GET", KOBO_PAGE2, (500, b"<h1>Server Error (500)</h1>", {"Content-Type": "text/html"}, 0)
    )
    before = snapshot(cdir)
    with pytest.raises(ServerError, match=r"HTTP 500.*after 3 attempt.*nothing was written"):
        pull_kobo(tiny_project, replay)
    assert replay.targets().count(_canonical(KOBO_PAGE2)) == 3
    assert snapshot(cdir) == before


def test_odk_without_next_links_pages_on_with_skip(tiny_project, replay):
    """Central before v2023.2 gives $top rows and @odata.count, but no @odata.nextLink."""
    write_cycle(tiny_project, "{server: odk, project: 3, form: adults_2025}")
    odk_routes(replay)
    page = json.loads((FIXTURES / "odk" / "submissions_page1.json").read_text(encoding="utf-8"))
    del page["@odata.nextLink"]
    replay.route("GET", ODK_PAGE1, (200, json.dumps(page).encode(), {}, 0))
    replay.route("GET", ODK_PAGE1 + "&$skip=2", "odk/submissions_page2.json")
    res = pull_odk(tiny_project, replay)
    assert (res.submissions, res.pages) == (3, 2)


def test_odk_500_on_the_second_page_writes_nothing(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: odk, project: 3, form: adults_2025}")
    odk_routes(replay)
    replay.route("GET", ODK_PAGE2, (500, "odk/404.json", {}, 0))
    before = snapshot(cdir)
    with pytest.raises(ServerError, match="HTTP 500"):
        pull_odk(tiny_project, replay)
    assert snapshot(cdir) == before


def test_malformed_json_is_reported(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    replay.route("GET", KOBO_PAGE1, (200, b'{"count": 3, "results": [{"_id": 1', {}, 0))
    with pytest.raises(ServerError, match=r"not JSON.*nothing was written"):
        pull_kobo(tiny_project, replay)
    assert not (cdir / "exports").exists()


def test_pages_that_do_not_add_up_to_the_count_are_refused(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    page = json.loads((FIXTURES / "kobo" / "data_page2.json").read_text(encoding="utf-8"))
    page["results"] = []  # a submission deleted while pulling
    replay.route("GET", KOBO_PAGE2, (200, json.dumps(page).encode(), {}, 0))
    with pytest.raises(ServerError, match="said 3 submissions but its pages held 2"):
        pull_kobo(tiny_project, replay)
    assert not (cdir / "exports").exists()


def test_a_next_link_to_another_server_is_not_followed(tiny_project, replay):
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    page = json.loads((FIXTURES / "kobo" / "data_page1.json").read_text(encoding="utf-8"))
    page["next"] = "https://evil.example.org/collect?start=2"
    replay.route("GET", KOBO_PAGE1, (200, json.dumps(page).encode(), {}, 0))
    with pytest.raises(ServerError, match="evil.example.org.*only ever sent"):
        pull_kobo(tiny_project, replay)
    assert len(replay.requests) == 2


def test_the_token_is_never_written(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    odk_routes(replay)
    pull_kobo(tiny_project, replay)
    (cdir / "cycle.yml").write_text(
        (cdir / "cycle.yml").read_text().replace("{server: kobo, asset: aBcD123}", "{server: odk, project: 3, form: adults_2025}")
    )  # fmt: skip
    res = pull_odk(tiny_project, replay, when=datetime(2026, 12, 4, tzinfo=UTC))
    blobs = [p.read_bytes() for p in tiny_project.root.rglob("*") if p.is_file()]
    assert len([p for p in (cdir / "exports").iterdir()]) == 4
    for secret in (KOBO_TOKEN, ODK_TOKEN, ODK_PASSWORD):
        assert not any(secret.encode() in b for b in blobs), secret
        assert secret not in res.summary()


# ====================================================================== settings


def test_settings_from_a_config_file_outside_the_project(tmp_path, tiny_project, replay):
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    kobo_routes(replay)
    cfg = tmp_path / "home" / "servers.yml"
    cfg.parent.mkdir()
    cfg.write_text(f"kobo:\n  url: {replay.base}/\n  token: {KOBO_TOKEN}\n", encoding="utf-8")
    res = pull_kobo(tiny_project, replay, env={}, config=cfg)
    assert res.export_written
    assert {r["headers"]["Authorization"] for r in replay.requests} == {f"Token {KOBO_TOKEN}"}
    s = server_settings("kobo", tiny_project.root, cfg, env={})
    assert KOBO_TOKEN not in repr(s)


def test_a_config_file_in_the_project_must_be_git_ignored(tiny_project, replay):
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    cfg = tiny_project.root / "servers.yml"
    cfg.write_text(f"kobo: {{url: {replay.base}, token: {KOBO_TOKEN}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a git work tree"):
        server_settings("kobo", tiny_project.root, cfg, env={})
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tiny_project.root)], check=True)
    with pytest.raises(ConfigError, match="git does not ignore it") as err:
        server_settings("kobo", tiny_project.root, cfg, env={})
    assert KOBO_TOKEN not in str(err.value)
    (tiny_project.root / ".gitignore").write_text("servers.yml\n", encoding="utf-8")
    assert server_settings("kobo", tiny_project.root, cfg, env={}).token == KOBO_TOKEN


def test_missing_settings_say_which_variables(tiny_project, tmp_path, monkeypatch):
    monkeypatch.setattr(pull_module, "DEFAULT_CONFIG", tmp_path / "absent" / "servers.yml")
    with pytest.raises(ConfigError, match="VOICESCOUNT_ODK_URL"):
        server_settings("odk", tiny_project.root, env={})
    env = {"VOICESCOUNT_ODK_URL": "https://central.example.org"}
    with pytest.raises(ConfigError, match="VOICESCOUNT_ODK_TOKEN.*VOICESCOUNT_ODK_EMAIL"):
        server_settings("odk", tiny_project.root, env=env)


def test_source_block_is_checked_and_cli_ids_override_it(tiny_project, replay):
    cdir = write_cycle(tiny_project, "{server: kobo, asset: aBcD123, form: x}")
    with pytest.raises(ConfigError, match=r"instruments.adults.source"):
        load_model(Cycle, cdir / "cycle.yml")
    write_cycle(tiny_project, "{server: odk, project: 3, form: adults_2025}")
    with pytest.raises(ConfigError, match="comes from odk, not kobo"):
        pull_kobo(tiny_project, replay)
    write_cycle(tiny_project, None)
    with pytest.raises(ConfigError, match="Give --project ID and --form"):
        pull_odk(tiny_project, replay)
    odk_routes(replay)
    res = pull_odk(tiny_project, replay, odk_project=3, form="adults_2025")
    assert res.export_written


# ====================================================================== the command


def test_cli_pull_prints_the_summary_and_fails_in_one_paragraph(tiny_project, replay, monkeypatch, capsys, tmp_path):  # fmt: skip
    write_cycle(tiny_project, "{server: kobo, asset: aBcD123}")
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    monkeypatch.setattr(cli, "HttpOptions", functools.partial(HttpOptions, page_size=2))
    for k, v in kobo_env(replay).items():
        monkeypatch.setenv(k, v)
    args = ["--root", str(tiny_project.root), "pull", "kobo", "--country", "ZZ", "--cycle", "2025",
            "--instrument", "adults"]  # fmt: skip
    replay.route("GET", KOBO_ASSET, (401, "kobo/401.json", {}, 0))
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: KoboToolbox server http://127.0.0.1:")
    assert "Traceback" not in err and "\n\n" not in err.strip()
    assert KOBO_TOKEN not in err

    kobo_routes(replay)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "pull kobo adults: 3 submissions in 2 page(s)" in out
    assert "exports/adults-" in out


def test_server_error_is_a_voices_error():
    assert issubclass(ServerError, VoicesError)
