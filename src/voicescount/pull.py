"""Pull: fetch a form's submissions and its current definition from KoboToolbox or ODK Central.

Partners collect on a server; analysts used to download exports by hand, rename them and lose
track of which form version a file came from. `pull` fetches every submission (all pages) and
the form definition into the cycle folder as NEW files, each with a `<file>.pull.json` sidecar
saying where it came from (server URL without credentials, asset / project and form id, form
version, fetched_at in UTC, sha256, submissions, pages, voicescount version), so an export in
`data/` can always be traced back to a server and a form version.

Rules (the raw data under data/ is the evidence the report rests on):

- Nothing under data/ is overwritten or deleted. An export identical to one already pulled is
  reported "unchanged" and nothing is written; a name clash with different content is refused.
- Everything is fetched before anything is written: a failure mid-way (a page that fails, a
  malformed answer) writes nothing, and every file is written atomically.
- The token is sent only to the configured server (a `next` link or redirect to another
  origin is refused) and never written to a file, sidecar or message.
- A form version that differs from the last pull's, or from the form cycle.yml points to, is
  reported with what to change in cycle.yml; cycle.yml itself is never edited.

What is written is what intake reads without conversion (`format: kobo-json`): Kobo's data
endpoint pages as `{"count", "results"}` and the asset JSON (its `content` is the XLSForm, read
by `xlsform.codebook_from_json`); ODK Central's OData submissions flattened to Kobo-style
`group/question` paths (`__id` -> KEY, `__system` -> the CSV export's SubmissionDate,
ReviewState, SubmitterName, ... columns; repeats requested inline with `$expand=*` become lists)
and the form's XLSForm (.xlsx; .xml when it was uploaded as XForms XML).

Server and credentials: environment variables VOICESCOUNT_KOBO_URL / VOICESCOUNT_KOBO_TOKEN,
VOICESCOUNT_ODK_URL and VOICESCOUNT_ODK_TOKEN (or VOICESCOUNT_ODK_EMAIL /
VOICESCOUNT_ODK_PASSWORD, exchanged for a session token), else a config file outside the
repository (`DEFAULT_CONFIG`, or `--config`): `{kobo: {url, token}, odk: {url, token | email,
password}}`. A config file inside the project that git does not ignore is refused, so a token
cannot be committed by accident.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, InputError, VoicesError
from .fileio import atomic_write_bytes
from .registry import Cycle, FormSource, Instrument, Project, load_model, read_yaml
from .xlsform import codebook_from_json

SERVERS = ("kobo", "odk")
SERVER_NAMES = {"kobo": "KoboToolbox", "odk": "ODK Central"}
#: Where the server addresses and tokens live when not in the environment (outside any repo).
DEFAULT_CONFIG = Path("~/.config/voicescount/servers.yml")
#: Submissions asked for per page (Kobo `limit`, OData `$top`).
PAGE_SIZE = 1000
SIDECAR = ".pull.json"


class ServerError(VoicesError):
    """A server could not be read: unreachable, refused the credentials, or answered badly."""


@dataclass(frozen=True)
class Server:
    """One server's address and credentials; `repr` never shows the token or password."""

    kind: str
    url: str
    token: str | None = field(default=None, repr=False)
    email: str | None = None
    password: str | None = field(default=None, repr=False)
    origin: str = ""  # where the settings came from, for messages: "environment" or a path

    @property
    def public_url(self) -> str:
        """The URL without user:password@ (what sidecars and messages show)."""
        parts = urllib.parse.urlsplit(self.url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

    @property
    def label(self) -> str:
        return f"{SERVER_NAMES[self.kind]} server {self.public_url}"


@dataclass(frozen=True)
class HttpOptions:
    """Timeout per request, retries (with exponential backoff) and the Retry-After cap."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    retry_after_cap: float = 60.0
    page_size: int = PAGE_SIZE
    sleep: Callable[[float], None] = time.sleep


@dataclass
class PullResult:
    """What one pull fetched and wrote; `summary()` is what the CLI prints."""

    server: str
    instrument: str
    submissions: int
    pages: int
    form_version: str
    export: Path
    form: Path
    export_written: bool
    form_written: bool
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        ex = "written" if self.export_written else "unchanged (identical to this file)"
        fm = "written" if self.form_written else "unchanged"
        lines = [
            f"pull {self.server} {self.instrument}: {self.submissions} submissions in "
            f"{self.pages} page(s), form version {self.form_version}",
            f"export: {self.export} ({ex})",
            f"form:   {self.form} ({fm})",
        ]
        return "\n".join(lines + self.messages)


# ====================================================================== settings


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _git_ignored(path: Path, root: Path) -> bool | None:
    """True/False as `git check-ignore` says; None when root is not a git work tree."""
    try:
        res = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--", str(path.resolve())],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(res.returncode)


def read_config(path: Path, root: Path) -> dict[str, Any]:
    """The servers config file; refused when it lies in the project and git does not ignore it."""
    path = Path(path).expanduser()
    if _inside(path, root):
        ignored = _git_ignored(path, root)
        if not ignored:
            why = (
                "git does not ignore it"
                if ignored is False
                else "the project is not a git work tree, so nothing keeps it out of commits"
            )
            raise ConfigError(
                f"holds server tokens but lies inside the project and {why}; a token in the "
                "repository is a token published.",
                path=path,
                hint=f"Move it to {DEFAULT_CONFIG} (the default) and pass --config there, or "
                "add its name to .gitignore.",
            )
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            "is not a mapping of servers.",
            path=path,
            hint="Write it as `kobo: {url: ..., token: ...}` and/or `odk: {url: ..., token: ...}`.",
        )
    return data


def server_settings(
    kind: str,
    root: Path,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Server:
    """URL and credentials for `kind`: environment variables first, then the config file."""
    env = os.environ if env is None else env
    prefix = f"VOICESCOUNT_{kind.upper()}_"
    keys = ("url", "token", "email", "password")
    values = {k: env.get(prefix + k.upper()) or None for k in keys}
    origin = "environment"
    path = Path(config).expanduser() if config else DEFAULT_CONFIG.expanduser()
    if config is not None or (path.is_file() and not (values["url"] and _has_auth(values))):
        entry = read_config(path, root).get(kind) or {}
        if not isinstance(entry, dict):
            raise ConfigError(
                f"has `{kind}:` but not as a mapping.",
                path=path,
                field=kind,
                hint=f"Write `{kind}: {{url: https://..., token: ...}}`.",
            )
        unknown = sorted(set(entry) - set(keys))
        if unknown:
            raise ConfigError(
                f"has unknown keys under `{kind}`: {', '.join(map(str, unknown))}.",
                path=path,
                field=kind,
                hint=f"Use only {', '.join(keys)}.",
            )
        for k in keys:
            if not values[k] and entry.get(k):
                values[k] = str(entry[k])
                origin = str(path)
    name = SERVER_NAMES[kind]
    if not values["url"]:
        raise ConfigError(
            f"no {name} address: set {prefix}URL (e.g. https://kf.kobotoolbox.org or "
            f"https://central.example.org) or `{kind}: {{url: ...}}` in {path}.",
            hint="Tokens belong in the environment or in that file, never in the repository.",
        )
    if not urllib.parse.urlsplit(values["url"]).scheme.startswith("http"):
        raise ConfigError(
            f"the {name} address '{values['url']}' is not an http(s) URL.",
            hint=f"Give it as https://host (in {prefix}URL or the config file).",
        )
    if not _has_auth(values):
        want = f"{prefix}TOKEN" + (
            f" (or {prefix}EMAIL and {prefix}PASSWORD)" if kind == "odk" else ""
        )
        raise ConfigError(
            f"no credentials for the {name} server {values['url']}: set {want} or add `token:` "
            f"under `{kind}:` in {path}.",
            hint="Kobo: Account settings > Security > API key; ODK Central: a web user's email "
            "and password, or an app-user / session token.",
        )
    return Server(kind, values["url"].rstrip("/"), values["token"], values["email"],
                  values["password"], origin)  # fmt: skip


def _has_auth(values: Mapping[str, str | None]) -> bool:
    return bool(values.get("token") or (values.get("email") and values.get("password")))


# ====================================================================== HTTP


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the server's origin (urllib would carry the token along)."""

    def __init__(self, origin: tuple[str, str]) -> None:
        self.origin = origin

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        new = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl))
        if (new.scheme, new.netloc) != self.origin:
            raise urllib.error.HTTPError(newurl, code, f"redirect to {new.netloc}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Client:
    """GET/POST against one server with its auth header, a timeout, retries and backoff.

    Retried: connection errors, timeouts, 429 (waiting Retry-After, up to the cap) and 5xx.
    Not retried: 401/403 (the credentials), 404 (the id), other 4xx. Every failure becomes
    one `ServerError` naming the server, the request and the fix; the token never appears.
    """

    def __init__(self, server: Server, options: HttpOptions | None = None) -> None:
        self.server = server
        self.options = options or HttpOptions()
        parts = urllib.parse.urlsplit(server.url)
        self.origin = (parts.scheme, parts.netloc)
        self.auth: str | None = None
        self.requests = 0
        self._opener = urllib.request.build_opener(_SameOrigin(self.origin))

    # ------------------------------------------------------------------ helpers

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = urllib.parse.urljoin(self.server.url + "/", path.lstrip("/"))
        if params:
            url += "?" + urllib.parse.urlencode(params, safe="$*")
        return url

    def _scrub(self, text: str) -> str:
        for secret in (self.auth, self.server.token, self.server.password):
            if secret and len(secret) >= 6:  # shorter is no real secret; it would garble words
                text = text.replace(secret, "***")
        return text

    def _where(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def fail(self, problem: str, hint: str, url: str | None = None) -> ServerError:
        what = f" ({self._where(url)})" if url else ""
        return ServerError(self._scrub(f"{self.server.label}{what}: {problem}"), hint=hint)

    # ------------------------------------------------------------------ requests

    def get_json(self, url: str) -> Any:
        return self.parse_json(self.request("GET", url), url)

    def parse_json(self, body: bytes, url: str) -> Any:
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.fail(
                f"answered with something that is not JSON ({type(exc).__name__}: "
                f"{str(exc)[:80]}; first bytes {body[:40]!r}).",
                "Check that the URL is the server's address (not a login or proxy page) and "
                "pull again; nothing was written.",
                url,
            ) from None

    def request(self, method: str, url: str, payload: Any = None) -> bytes:
        """One request with retries; the body of the successful answer."""
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc) != self.origin:
            raise self.fail(
                f"sent a link to another server ({parts.scheme}://{parts.netloc}); the token "
                "is only ever sent to the configured server.",
                "Set the URL to the address the server itself uses (compare the `next` links) "
                "and pull again; nothing was written.",
                url,
            )
        opts = self.options
        data = json.dumps(payload).encode() if payload is not None else None
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, method=method)
            req.add_header("Accept", "application/json, */*")
            req.add_header("User-Agent", f"voicescount/{__version__}")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            if self.auth:
                req.add_header("Authorization", self.auth)
            self.requests += 1
            wait: float | None
            try:
                with self._opener.open(req, timeout=opts.timeout) as resp:
                    return resp.read()
            except urllib.error.HTTPError as err:
                body = _read_quietly(err)
                wait = self._on_http_error(err, body, url, attempt)
                problem = f"answered HTTP {err.code} {err.reason}{_detail(body)}"
            except TimeoutError:
                wait = opts.backoff * 2**attempt
                problem = f"did not answer within {opts.timeout:g} s"
            except urllib.error.URLError as err:
                reason = err.reason
                if isinstance(reason, TimeoutError):
                    problem = f"did not answer within {opts.timeout:g} s"
                else:
                    problem = f"cannot be reached ({reason})"
                wait = opts.backoff * 2**attempt
            except (OSError, http.client.HTTPException) as err:  # reset mid-answer, etc.
                wait = opts.backoff * 2**attempt
                problem = f"broke the connection ({err})"
            if attempt >= opts.retries:
                raise self.fail(
                    f"{problem}, after {attempt + 1} attempt(s).",
                    "Check the address and your network (or try again later); nothing was written.",
                    url,
                )
            opts.sleep(wait)
            attempt += 1

    def _on_http_error(self, err: urllib.error.HTTPError, body: bytes, url: str, attempt: int):
        """Raise for errors a retry cannot fix; else the seconds to wait before retrying."""
        opts = self.options
        env = f"VOICESCOUNT_{self.server.kind.upper()}_"
        if err.code in (401, 403):
            refused = "refused the credentials" if err.code == 401 else "refused access"
            hint = (
                f"Set {env}TOKEN to a valid API token (KoboToolbox: Account settings > "
                "Security > API key) with access to the asset."
                if self.server.kind == "kobo"
                else f"Set {env}TOKEN (or {env}EMAIL and {env}PASSWORD) to an account that "
                "may read this form's submissions (Project Viewer or above)."
            )
            raise self.fail(f"{refused} (HTTP {err.code}{_detail(body)}).", hint, url)
        if err.code == 404:
            raise self.fail(
                f"has no such item (HTTP 404{_detail(body)}).",
                "Check the asset uid (KoboToolbox: the id in the form's URL) or the ODK "
                "project id and xmlFormId, in cycle.yml `source:` or --asset/--project/--form.",
                url,
            )
        if err.code == 429:
            after = _retry_after(err.headers.get("Retry-After"))
            if after is not None and after > opts.retry_after_cap:
                raise self.fail(
                    f"limits the request rate and asks to wait {after:g} s, more than "
                    f"{opts.retry_after_cap:g} s.",
                    "Pull again later; nothing was written.",
                    url,
                )
            return after if after is not None else opts.backoff * 2**attempt
        if err.code >= 500 or err.code in (408,):
            return opts.backoff * 2**attempt
        if 300 <= err.code < 400:
            raise self.fail(
                f"redirected to another server ({err.msg}); the token is not sent there.",
                "Set the URL to the server's own address; nothing was written.",
                url,
            )
        raise self.fail(
            f"answered HTTP {err.code} {err.reason}{_detail(body)}.",
            "Check the address and ids; nothing was written.",
            url,
        )

    # ------------------------------------------------------------------ authentication

    def login(self) -> None:
        """Set the Authorization header (ODK: a session token from email and password)."""
        s = self.server
        if s.kind == "kobo":
            self.auth = f"Token {s.token}"
        elif s.token:
            self.auth = f"Bearer {s.token}"
        else:
            url = self.url("/v1/sessions")
            answer = self.parse_json(
                self.request("POST", url, {"email": s.email, "password": s.password}), url
            )
            token = answer.get("token") if isinstance(answer, dict) else None
            if not token:
                raise self.fail(
                    "gave no session token.",
                    "Check VOICESCOUNT_ODK_EMAIL / VOICESCOUNT_ODK_PASSWORD.",
                    url,
                )
            self.auth = f"Bearer {token}"


def _read_quietly(err: urllib.error.HTTPError) -> bytes:
    try:
        return err.read() or b""
    except Exception:  # noqa: BLE001 - a body we cannot read only loses the detail
        return b""


def _detail(body: bytes) -> str:
    """The server's own short explanation (`detail` / `message`), if it gave one."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    text = data.get("detail") or data.get("message") if isinstance(data, dict) else None
    return f": {str(text)[:160]}" if text else ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


# ====================================================================== fetching


@dataclass
class Fetched:
    """Everything one pull fetched, before anything is written."""

    ids: dict[str, Any]
    form_version: str
    form_bytes: bytes
    form_suffix: str
    export_bytes: bytes
    submissions: int
    pages: int
    notes: list[str] = field(default_factory=list)


def _dump(obj: Any) -> bytes:
    """Deterministic JSON bytes (server order kept): the same answer gives the same file."""
    return (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def collect_pages(
    client: Client,
    url: str | None,
    items: str,
    count_key: str,
    next_url: Callable[[dict[str, Any], int], str | None],
) -> tuple[list[Any], int]:
    """Every page's `items` from `url` on (`next_url(page, rows so far)` gives the next page),
    checked against the server's count; (rows, pages fetched)."""
    results: list[Any] = []
    pages = 0
    count = None
    while url:
        page = client.get_json(url)
        pages += 1
        if not isinstance(page, dict) or not isinstance(page.get(items), list):
            raise client.fail(
                f"answered page {pages} without a `{items}` list.",
                "Pull again; nothing was written.",
                url,
            )
        results.extend(page[items])
        count = page.get(count_key, count)
        url = next_url(page, len(results))
    if count is not None and count != len(results):
        raise client.fail(
            f"said {count} submissions but its pages held {len(results)} (submissions "
            "arrived or were deleted while pulling?).",
            "Pull again; nothing was written.",
        )
    return results, pages


def fetch_kobo(client: Client, asset: str) -> Fetched:
    """The asset's form (uid, name, versions, content) and every submission, all pages."""
    quoted = urllib.parse.quote(asset, safe="")
    url = client.url(f"/api/v2/assets/{quoted}/", {"format": "json"})
    meta = client.get_json(url)
    if not isinstance(meta, dict) or not isinstance(meta.get("content"), dict):
        raise client.fail(
            "answered without the form `content` for this asset.",
            "Check that the uid is a deployed survey (not a library question or block).",
            url,
        )
    version = str(meta.get("deployed_version_id") or meta.get("version_id") or "")
    if not version:
        raise client.fail("gave no version_id for the asset.", "Deploy the form first.", url)
    content = meta["content"]
    notes = []
    draft = meta.get("version_id")
    if meta.get("deployed_version_id") and draft and draft != version:
        # The asset holds undeployed edits: its `content` is the draft, not what was collected.
        vurl = client.url(f"/api/v2/assets/{quoted}/versions/{version}/", {"format": "json"})
        deployed = client.get_json(vurl)
        content = deployed.get("content") if isinstance(deployed, dict) else None
        if not isinstance(content, dict):
            raise client.fail(
                "answered without the deployed version's form `content`.",
                "Redeploy the form (or discard the draft) and pull again; nothing was written.",
                vurl,
            )
        notes.append(
            f"the asset has undeployed edits (version {draft}); the form written is the "
            f"deployed version {version}, which the submissions were collected with."
        )
    form = {"uid": meta.get("uid"), "name": meta.get("name"), "version_id": version}
    form["content"] = content
    try:
        codebook_from_json(form)
    except InputError as err:
        raise client.fail(f"sent a form intake cannot read ({err.problem})", "", url) from None
    params = {"format": "json", "limit": client.options.page_size, "start": 0}
    url = client.url(f"/api/v2/assets/{quoted}/data/", params)
    results, pages = collect_pages(
        client, url, "results", "count", lambda page, n: page.get("next")
    )
    return Fetched(
        ids={"asset": asset},
        form_version=version,
        form_bytes=_dump(form),
        form_suffix=".json",
        export_bytes=_dump({"count": len(results), "results": results}),
        submissions=len(results),
        pages=pages,
        notes=notes,
    )


#: ODK Central `__system` fields -> the column names of its CSV export (what intake knows).
ODK_SYSTEM = {
    "submissionDate": "SubmissionDate",
    "updatedAt": "UpdatedAt",
    "submitterId": "SubmitterID",
    "submitterName": "SubmitterName",
    "attachmentsPresent": "AttachmentsPresent",
    "attachmentsExpected": "AttachmentsExpected",
    "status": "Status",
    "reviewState": "ReviewState",
    "deviceId": "DeviceID",
    "edits": "Edits",
    "formVersion": "FormVersion",
}


def flatten_odata(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One OData submission as Kobo-style `group/question` keys (see the module docstring).

    Groups (objects) are flattened; GeoJSON values stay objects; repeats (lists of objects)
    stay lists of flattened records, which intake reads as repeat tables.
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if "@odata." in key:
            continue  # navigation links to repeat tables and counts
        if not prefix and key == "__id":
            out["KEY"] = value
            continue
        if not prefix and key == "__system" and isinstance(value, dict):
            for k, v in value.items():
                out[ODK_SYSTEM.get(k, f"__system/{k}")] = v
            continue
        if prefix and key == "__id":
            continue  # a repeat row's own key; intake numbers repeat rows itself
        path = prefix + key
        if isinstance(value, dict) and not {"type", "coordinates"} <= set(value):
            out.update(flatten_odata(value, path + "/"))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out[path] = [flatten_odata(v, path + "/") for v in value]
        else:
            out[path] = value
    return out


def fetch_odk(client: Client, project: int, form: str) -> Fetched:
    """The form's version and XLSForm (or XForm XML) and every submission, all OData pages."""
    base = f"/v1/projects/{int(project)}/forms/{urllib.parse.quote(form, safe='')}"
    url = client.url(base)
    meta = client.get_json(url)
    if not isinstance(meta, dict) or "xmlFormId" not in meta:
        raise client.fail("answered without the form's metadata.", "Check the form id.", url)
    version = str(meta.get("version") or "")
    notes = []
    if not version:
        version = "hash-" + str(meta.get("hash") or "none")[:12]
        notes.append(f"the form has no version string; its file is named by {version}.")
    xlsx_url = client.url(base + ".xlsx")
    try:
        form_bytes, suffix = client.request("GET", xlsx_url), ".xlsx"
    except ServerError as err:
        if "HTTP 404" not in err.problem:
            raise
        form_bytes, suffix = client.request("GET", client.url(base + ".xml")), ".xml"
        notes.append(
            "the form was uploaded as XForms XML, not as an XLSForm: intake reads only the "
            "XLSForm (.xlsx), so point `form:` at the XLSForm the form was built from."
        )
    params = {"$top": client.options.page_size, "$count": "true", "$expand": "*"}
    url = client.url(base + ".svc/Submissions", params)

    def next_url(page: dict[str, Any], n: int) -> str | None:
        link = page.get("@odata.nextLink")
        count = page.get("@odata.count")
        if not link and page["value"] and isinstance(count, int) and n < count:
            # Central before v2023.2 sends no nextLink: page on with $skip
            link = client.url(base + ".svc/Submissions", params | {"$skip": n})
        return link

    rows, pages = collect_pages(client, url, "value", "@odata.count", next_url)
    results = [flatten_odata(v) if isinstance(v, dict) else v for v in rows]
    return Fetched(
        ids={"project": int(project), "form": form},
        form_version=version,
        form_bytes=form_bytes,
        form_suffix=suffix,
        export_bytes=_dump({"count": len(results), "results": results}),
        submissions=len(results),
        pages=pages,
        notes=notes,
    )


# ====================================================================== writing


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(text: str) -> str:
    """A version string as a file-name part (Kobo uids are safe; ODK versions are free text)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip(".") or "none"


def sidecars(folder: Path, instrument: str) -> list[tuple[Path, dict[str, Any]]]:
    """Earlier pulls' sidecars of `instrument` in `folder`, oldest first (by fetched_at)."""
    out = []
    for p in sorted(folder.glob(f"{instrument}-*{SIDECAR}")):
        try:
            meta = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict):
            out.append((p, meta))
    return sorted(out, key=lambda pm: str(pm[1].get("fetched_at", "")))


def _clash(path: Path, new: bytes, what: str) -> ConfigError:
    old = path.read_bytes()
    try:
        a, b = json.loads(old), json.loads(new)
        if isinstance(a, dict) and isinstance(b, dict):
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            differs = "the keys " + ", ".join(keys)
        else:
            differs = "the content"
    except (UnicodeDecodeError, json.JSONDecodeError):
        differs = f"the bytes ({len(old)} in the file, {len(new)} fetched)"
    return ConfigError(
        f"exists with different content ({what}; differs in {differs}); files under data/ are "
        "never overwritten.",
        path=path,
        hint="Pull again in a second (exports are named by time), or find out why the server "
        "sent a different file for the same name; nothing was written.",
    )


def _sidecar(server: Server, fetched: Fetched, path: Path, data: bytes, kind: str, now: str):
    meta: dict[str, Any] = {
        "kind": kind,
        "file": path.name,
        "sha256": sha256(data),
        "bytes": len(data),
        "server": server.kind,
        "url": server.public_url,
        **fetched.ids,
        "form_version": fetched.form_version,
        "fetched_at": now,
        "voicescount": __version__,
    }
    if kind == "export":
        meta |= {
            "submissions": fetched.submissions,
            "pages": fetched.pages,
            "format": "kobo-json",
        }
        if server.kind == "odk":
            meta["flattened"] = "OData groups as group/question; __system as CSV columns"
    return _dump(meta)


def _cycle_instrument(project: Project, iso: str, cycle: int, name: str) -> Instrument | None:
    """The instrument in cycle.yml (schema-checked; its files need not exist before a pull)."""
    path = project.cycle_dir(iso, cycle) / "cycle.yml"
    if not path.is_file():
        return None
    cyc = load_model(Cycle, path)
    return cyc.instruments.get(name)


def resolve_source(
    server: str,
    inst: Instrument | None,
    cycle_yml: Path,
    instrument: str,
    asset: str | None = None,
    project: int | None = None,
    form: str | None = None,
) -> FormSource:
    """cycle.yml's `source:` with the command-line ids laid over it."""
    src = inst.source if inst else None
    if src is not None and src.server != server:
        raise ConfigError(
            f"says instrument '{instrument}' comes from {src.server}, not {server}.",
            path=cycle_yml,
            field=f"instruments.{instrument}.source.server",
            hint=f"Run `voicescount pull {src.server} ...`, or correct `source:`.",
        )
    fields: dict[str, Any] = {"server": server}
    if src is not None:
        fields |= src.model_dump(exclude_none=True)
    given = {"asset": asset, "project": project, "form": form}
    fields |= {k: v for k, v in given.items() if v is not None}
    try:
        return FormSource(**fields)
    except Exception:  # noqa: BLE001 - pydantic's message is rewritten for the analyst
        need = "--asset UID" if server == "kobo" else "--project ID and --form XMLFORMID"
        yml = (
            "{server: kobo, asset: <uid>}"
            if server == "kobo"
            else "{server: odk, project: <id>, form: <xmlFormId>}"
        )
        raise ConfigError(
            f"which {SERVER_NAMES[server]} form is '{instrument}'? Give {need} (only those "
            f"of {server}).",
            path=cycle_yml,
            field=f"instruments.{instrument}.source",
            hint=f"Or add `source: {yml}` to the instrument in cycle.yml.",
        ) from None


def pull(
    project: Project,
    server: str,
    iso: str,
    cycle: int,
    instrument: str,
    *,
    asset: str | None = None,
    odk_project: int | None = None,
    form: str | None = None,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    options: HttpOptions | None = None,
    now: datetime | None = None,
) -> PullResult:
    """Fetch `instrument`'s submissions and form from `server` into data/<ISO>/<cycle>/."""
    if server not in SERVERS:
        raise ConfigError(f"unknown server kind '{server}'.", hint="Use kobo or odk.")
    cdir = project.cycle_dir(iso, cycle)
    cycle_yml = cdir / "cycle.yml"
    if not cdir.is_dir():
        raise ConfigError(
            "is not a cycle folder yet.",
            path=cdir,
            hint="Create data/<ISO>/<cycle>/ (with cycle.yml) first; see the README.",
        )
    inst = _cycle_instrument(project, iso, cycle, instrument)
    src = resolve_source(server, inst, cycle_yml, instrument, asset, odk_project, form)
    settings = server_settings(server, project.root, config, env)
    client = Client(settings, options)
    client.login()
    if server == "kobo":
        fetched = fetch_kobo(client, src.asset or "")
    else:
        fetched = fetch_odk(client, src.project or 0, src.form or "")
    return write_pull(settings, fetched, cdir, instrument, inst, now)


def write_pull(
    settings: Server,
    fetched: Fetched,
    cdir: Path,
    instrument: str,
    inst: Instrument | None,
    now: datetime | None = None,
) -> PullResult:
    """Write what was fetched as new files (or nothing, when identical); see the module doc."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    fetched_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    exports, forms = cdir / "exports", cdir / "forms"
    messages = list(fetched.notes)
    rel = lambda p: p.relative_to(cdir).as_posix()  # noqa: E731

    # --- plan (refusals before any write)
    previous = sidecars(exports, instrument)
    version = fetched.form_version
    form_path = forms / f"{instrument}-{_safe(version)}{fetched.form_suffix}"
    form_new = not form_path.exists()
    if not form_new and form_path.read_bytes() != fetched.form_bytes:
        raise _clash(form_path, fetched.form_bytes, f"form version {version}")
    digest = sha256(fetched.export_bytes)
    same = [
        exports / m["file"]
        for _, m in previous
        if m.get("sha256") == digest and (exports / str(m.get("file"))).is_file()
    ]
    same = [p for p in same if sha256(p.read_bytes()) == digest]
    export_path = same[-1] if same else exports / f"{instrument}-{stamp}.json"
    export_new = not same
    if export_new and export_path.exists():
        raise _clash(export_path, fetched.export_bytes, "an export pulled the same second")
    for path in (form_path, export_path):
        side = path.with_name(path.name + SIDECAR)
        if (path is form_path and form_new or path is export_path and export_new) and side.exists():
            raise ConfigError(
                "exists without the file it describes; files under data/ are never overwritten.",
                path=side,
                hint="Find out what removed the file beside it; nothing was written.",
            )

    # --- write (data file first, then its sidecar; each atomically)
    if form_new:
        atomic_write_bytes(form_path, fetched.form_bytes)
        side = _sidecar(settings, fetched, form_path, fetched.form_bytes, "form", fetched_at)
        atomic_write_bytes(form_path.with_name(form_path.name + SIDECAR), side)
    if export_new:
        atomic_write_bytes(export_path, fetched.export_bytes)
        side = _sidecar(settings, fetched, export_path, fetched.export_bytes, "export", fetched_at)
        atomic_write_bytes(export_path.with_name(export_path.name + SIDECAR), side)

    # --- what changed, and what to change in cycle.yml
    last_version = str(previous[-1][1].get("form_version")) if previous else None
    if last_version is not None and last_version != version:
        messages.append(
            f"FORM VERSION CHANGED on the server: {version} (the last pull, "
            f"{previous[-1][1].get('file')}, had {last_version}); wrote {rel(form_path)}."
        )
    field_ = f"instruments.{instrument}"
    if inst is not None and inst.form:
        used = _form_version(cdir / inst.form)
        if used is not None and used != version:
            messages.append(
                f"cycle.yml still uses form {inst.form} (version {used}): after checking what "
                f"changed, set `{field_}.form: {rel(form_path)}` and `{field_}.data: "
                f"{rel(export_path)}`, or keep both if this cycle stays on version {used}."
            )
    elif inst is not None:
        messages.append(f"cycle.yml gives no form: set `{field_}.form: {rel(form_path)}`.")
    if inst is None:
        messages.append(
            f"cycle.yml has no instrument '{instrument}' yet: add it with `data: "
            f"{rel(export_path)}`, `form: {rel(form_path)}`, `format: kobo-json` and `source:`."
        )
    elif inst.data != rel(export_path):
        messages.append(
            f"cycle.yml reads `data: {inst.data}`; to use this pull set `{field_}.data: "
            f"{rel(export_path)}` (and `format: kobo-json`)."
        )
    return PullResult(
        server=settings.kind,
        instrument=instrument,
        submissions=fetched.submissions,
        pages=fetched.pages,
        form_version=version,
        export=export_path,
        form=form_path,
        export_written=export_new,
        form_written=form_new,
        messages=messages,
    )


def _form_version(path: Path) -> str | None:
    """The version of a form file: from its pull sidecar, else from a Kobo asset JSON."""
    side = path.with_name(path.name + SIDECAR)
    try:
        if side.is_file():
            return str(json.loads(side.read_text(encoding="utf-8"))["form_version"])
        if path.suffix == ".json" and path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            v = data.get("deployed_version_id") or data.get("version_id")
            return str(v) if v else None
    except (OSError, KeyError, TypeError, AttributeError, json.JSONDecodeError):
        return None
    return None


__all__ = [
    "DEFAULT_CONFIG",
    "Client",
    "Fetched",
    "HttpOptions",
    "PullResult",
    "Server",
    "ServerError",
    "collect_pages",
    "fetch_kobo",
    "fetch_odk",
    "flatten_odata",
    "pull",
    "read_config",
    "resolve_source",
    "server_settings",
    "write_pull",
]
