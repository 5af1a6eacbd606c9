"""The console: a web application over the store (FastAPI, Jinja2 templates, served by uvicorn).

Registry data is hostile text: every page escapes it (Jinja2's autoescape, never ``|safe`` on it), under
a Content-Security-Policy that runs no script at all. Pages take a session made by logging in with a
token; the API takes the token itself (``Authorization: Bearer``). A token opens its own project only:
another project answers 404, as one that does not exist does.
"""

import csv
import io
import json
import re
import secrets
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy.engine import RowMapping
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from .. import __version__
from ..analysis import sbom
from ..report import report_name, safe_cell
from ..results import changes, registry_sarif, stored_scan
from ..store import Store, is_own_scan
from ..vulns.sarif import to_sarif
from ..vulns.severity import LEVELS, rank
from . import findings, tokens, wire

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
READERS = ("read", "admin")
BODY = 32 * 1024 * 1024  # bytes a submission may have (the client keeps its requests under a quarter of it)
FORM = 16 * 1024  # bytes a page's form may send (a token, a name, the CSRF token): parsed before any check
EXPORT = 200_000  # findings an export holds, at most
SESSION_SECONDS = 12 * 3600  # a login lasts this long
COUNT = re.compile(r"-?[0-9]{1,15}")


def create_app(store: Store, *, https: bool = False, session_key: str | None = None) -> FastAPI:
    """The console over ``store``. Sessions are signed with ``session_key`` (a fresh one by default: a
    restart logs everyone out)."""
    app = FastAPI(
        title="tcs-registry console",
        version=__version__,
        openapi_url="/api/docs",  # the OpenAPI document; no page that loads scripts from elsewhere
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key or secrets.token_urlsafe(32),
        session_cookie="tcs_session",
        same_site="strict",
        https_only=https,
        max_age=SESSION_SECONDS,
    )
    # every template escapes what it shows, whatever its name (select_autoescape would by extension only)
    # the sessions logged in (session id -> token id, when): the cookie names one, signed; logging out ends
    # it for every copy of the cookie (a restart ends them all, as the signing key is the process's own);
    # one older than its cookie is forgotten (a console up for months keeps no session of every login)
    live: dict[str, tuple[int, float]] = {}
    templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def small_forms(request: Request, call_next: Any) -> Response:
        # a page's form is parsed before its CSRF token is checked, by anyone: its size is declared and
        # small (a browser always declares it; the HTTP parser holds the body to what is declared). Added
        # first, so inside security_headers: its refusal gets the same headers as any answer.
        if request.method == "POST" and not request.url.path.startswith("/api/"):
            declared = request.headers.get("content-length", "")
            if not declared.isdigit() or int(declared) > FORM:
                return PlainTextResponse(f"a form sends at most {FORM} bytes", 413)
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path.startswith(("/api/", "/projects", "/login")):
            response.headers["Cache-Control"] = "no-store"
        return response

    # -- who asks -------------------------------------------------------------------------------
    def bearer(request: Request) -> RowMapping:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        token = tokens.check(store, secret.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise HTTPException(
                401, "a valid token is needed: Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        return token

    def reader(project: str, token: Annotated[RowMapping, Depends(bearer)]) -> RowMapping:
        if token["project"] != project:
            raise HTTPException(404, "Not Found")  # another project's: as if it did not exist
        if token["role"] not in READERS:
            raise HTTPException(403, f"a {token['role']} token cannot read findings")
        return token

    def session_token(request: Request) -> RowMapping | None:
        token_id, _ = live.get(str(request.session.get("sid")), (None, 0.0))  # logged out: gone, copied or not
        row = store.token_by_id(token_id) if token_id is not None else None
        if row is None:
            request.session.clear()
        return row

    def page_reader(request: Request, project: str) -> RowMapping:
        token = session_token(request)
        if token is None:  # log in, then back here (a link printed by a scan, say)
            back = quote(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, headers={"Location": f"/login?{urlencode({'next': back})}"})
        if token["project"] != project:
            raise HTTPException(404, "Not Found")
        return token

    def csrf(request: Request) -> str:
        value = request.session.get("csrf")
        if not isinstance(value, str):
            value = request.session["csrf"] = secrets.token_urlsafe(24)
        return value

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.update(request=request, csrf=csrf(request), version=__version__, levels=list(reversed(LEVELS)))
        return templates.TemplateResponse(request, name, context, status_code=status)

    # -- the API -----------------------------------------------------------------------------
    def filters_of(project: str, params: dict[str, str]) -> findings.Filters:
        """The query's filters: one that names nothing there is 422 (a typo must not widen the list), a
        run the project does not have 404."""
        try:
            filters = findings.Filters.parse(params)
        except findings.FilterError as exc:
            raise HTTPException(422, str(exc)) from None
        if filters.scan is not None:
            scanned_run(project, filters.scan)
        return filters

    def project_run(project: str, number: int | None, asked: str = "") -> RowMapping:
        """The project's run ``number``; 404, in the same words everywhere, for one it does not have. What
        was ``asked`` is said only if it is a number (it may be anything: a token pasted in the wrong place)."""
        row = store.run(project, number) if number and 0 < number < 2**31 else None
        if row is None:
            named = asked if asked.isascii() and asked.isdecimal() and len(asked) <= 40 else str(number or "")
            raise HTTPException(404, f"No run {named} in this project" if named else "No such run in this project")
        return row

    def scanned_run(project: str, number: int, asked: str = "", then: str = "") -> RowMapping:
        """The project's run ``number`` as a scan: a dry run's findings are not none (422)."""
        row = project_run(project, number, asked)
        if row["mode"] == "dry-run":
            raise scanned_none(number, then)
        return row

    def scan_with_images(project: str, number: int, asked: str = "", then: str = "") -> tuple[RowMapping, list[int]]:
        """`scanned_run` and the runs of its scan, which must have scanned an image (one that scanned none,
        all failed or an empty registry, has nothing to compare with or to write: 422 as a dry run)."""
        row = scanned_run(project, number, asked, then)
        runs = store.scan_runs(project, number)
        if not store.latest_scan(project, runs):
            raise scanned_none(number, then)
        return row, runs

    def scanned_none(number: int, then: str) -> HTTPException:
        return HTTPException(422, f"Run {number} scanned no image (a dry run?){then}")

    def listing(request: Request, project: str, kind: str) -> dict[str, Any]:
        params = dict(request.query_params)
        offset_text, limit_text = params.pop("offset", "0").strip(), params.pop("limit", str(findings.PAGE)).strip()
        if not all(COUNT.fullmatch(text) for text in (offset_text, limit_text)):  # (int() takes any script's digits)
            raise HTTPException(422, "offset and limit are numbers")
        offset, limit = int(offset_text), int(limit_text)
        if not 0 <= offset < 2**31:
            raise HTTPException(422, "offset is a number from 0")
        if limit < 1:  # (more than the most is the most: the next link says where the rest is)
            raise HTTPException(422, f"limit is a number from 1 to {findings.MOST}")
        filters = filters_of(project, params)
        found = findings.page(store, project, kind, filters, offset, limit)
        following = None
        if found.next_offset is not None:  # (relative: a Host header, or a proxy's, names no other server)
            url = request.url.include_query_params(offset=found.next_offset, limit=found.limit)
            following = f"{url.path}?{url.query}"
        return {"items": found.items, "total": found.total, "next": following}

    @app.get("/api/v1/projects/{project}/vulnerabilities")
    def api_vulnerabilities(request: Request, project: str, _: Annotated[RowMapping, Depends(reader)]) -> dict:
        """The vulnerabilities of each registry's latest scan (or of `scan`), worst first. Filters:
        severity (comma-separated), repository (a name or its start), package, id (or alias), fixable, scan."""
        return listing(request, project, "vulnerabilities")

    @app.get("/api/v1/projects/{project}/violations")
    def api_violations(request: Request, project: str, _: Annotated[RowMapping, Depends(reader)]) -> dict:
        """The config checks failed by each registry's latest scan (or by `scan`), worst first."""
        return listing(request, project, "violations")

    def submitter(project: str, token: Annotated[RowMapping, Depends(bearer)]) -> RowMapping:
        if token["project"] != project:
            raise HTTPException(404, "Not Found")
        if token["role"] not in ("submit", "admin"):
            raise HTTPException(403, f"a {token['role']} token cannot submit scans")
        return token

    async def payload(request: Request) -> dict[str, Any]:
        """The request's JSON object, refused past BODY bytes (a sender's size is not trusted)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > BODY:
            raise HTTPException(413, f"at most {BODY} bytes a request")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > BODY:
                raise HTTPException(413, f"at most {BODY} bytes a request")
        try:
            value = await run_in_threadpool(json.loads, bytes(body))  # (a big body: not on the event loop)
        except (ValueError, RecursionError):
            raise HTTPException(422, "the body is not JSON (or nested too deep)") from None
        if not isinstance(value, dict):
            raise HTTPException(422, "the body is a JSON object")
        return value

    @app.post("/api/v1/projects/{project}/runs")
    async def api_begin(request: Request, project: str, _: Annotated[RowMapping, Depends(submitter)]) -> dict:
        """Begin a submitted run (the same `client` key again: the same run): registry, registry_type,
        mode, scan_id, shard [K, N], client."""
        body = await payload(request)
        try:
            registry, client = wire.text(body.get("registry"), "registry"), wire.text(body.get("client"), "client")
            registry_type = wire.text(body.get("registry_type", "DEFAULT_V2"), "registry_type")
            mode = body.get("mode", "scan")
            scan_id = body.get("scan_id")
            shard = body.get("shard", [1, 1])
            if mode not in ("scan", "dry-run"):
                raise ValueError("mode is scan or dry-run")
            if not registry.startswith(("https://", "http://")):
                raise ValueError("registry is the registry's URL")
            if scan_id is not None:
                scan_id = wire.text(scan_id, "scan_id")
                if is_own_scan(scan_id):  # (as --scan-id: "run-<id>" is a run's scan of its own)
                    raise ValueError("a scan_id beginning run- is a run's own: choose another")
            if not (isinstance(shard, list) and len(shard) == 2 and all(isinstance(n, int) for n in shard)):
                raise ValueError("shard is [K, N]")
            if not 1 <= shard[0] <= shard[1] <= 1_000_000:
                raise ValueError("shard is [K, N] with K from 1 to N")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        options = json.dumps({"client": client})

        def begin() -> int:
            known = store.run_with_options(project, options)
            if known is not None:
                return known
            if scan_id is not None and store.share_recorded_here(project, scan_id, tuple(shard)):
                # (a later run of a share stands for it: this one would replace that run's findings)
                raise HTTPException(409, "tcs-registry itself recorded this share of scan_id: choose another")
            return store.begin_run(
                project, registry, registry_type, mode, options, scan_id=scan_id, shard=tuple(shard), here=False
            )

        return {"run": await run_in_threadpool(begin)}

    def submitted(project: str, run: str) -> RowMapping:
        """The project's run begun through this API (a finished one too: sending again changes nothing, a
        lost answer is retried, `results push` sends a run again whole); one recorded by tcs-registry
        itself is no submitter's to change."""
        row = project_run(project, findings.query_number(run) or 0, run)
        if not store.submitted(row["id"]):
            raise HTTPException(403, f"Run {row['id']} was not begun through this API: a submitter cannot change it")
        return row

    @app.post("/api/v1/projects/{project}/runs/{run}/images")
    async def api_images(
        request: Request, project: str, run: str, _: Annotated[RowMapping, Depends(submitter)]
    ) -> dict:
        """Images described and image platforms scanned, in batches (sending one again changes nothing):
        images [image], scans [{document, findings}]."""
        body = await payload(request)
        images, scanned = body.get("images") or [], body.get("scans") or []
        if not isinstance(images, list) or not isinstance(scanned, list):
            raise HTTPException(422, "images and scans are lists")
        if len(images) > wire.BATCH or len(scanned) > wire.BATCH:
            raise HTTPException(413, f"at most {wire.BATCH} images and {wire.BATCH} scans a request")
        row = await run_in_threadpool(submitted, project, run)
        try:
            described = [wire.image_from_wire(image) for image in images]
            found = [wire.scan_from_wire(scan, urlsplit(row["registry"]).netloc) for scan in scanned]
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

        def record() -> int:
            return store.record(row["id"], project, row["registry"], described, found)

        return {"new": await run_in_threadpool(record)}

    @app.post("/api/v1/projects/{project}/runs/{run}/finish")
    async def api_finish(
        request: Request, project: str, run: str, _: Annotated[RowMapping, Depends(submitter)]
    ) -> dict:
        """The run's end: status (complete, partial, failed, interrupted) and counts found, new, skipped,
        failed."""
        body = await payload(request)
        status = body.get("status")
        counts = {key: body.get(key, 0) for key in ("found", "new", "skipped", "failed")}
        if status not in ("complete", "partial", "failed", "interrupted"):
            raise HTTPException(422, "status is complete, partial, failed or interrupted")
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in counts.values()):
            raise HTTPException(422, "found, new, skipped and failed are counts")

        def finish() -> int:
            number = submitted(project, run)["id"]
            store.finish_run(number, status=status, report=None, **counts)
            return number

        return {"run": await run_in_threadpool(finish), "status": status}

    @app.get("/api/v1/projects/{project}/registries")
    def api_registries(project: str, _: Annotated[RowMapping, Depends(reader)]) -> dict:
        """Each registry of the project with its latest scan (`scanned_at`: RFC 3339, UTC), the totals by
        severity, and the vulnerabilities by severity of its last scans (`trend`, oldest first)."""
        return {"items": overview(project)}

    def overview(project: str) -> list[dict[str, Any]]:
        """The project's registries as data; the page shows the time and draws the trend (`shown`)."""
        registries = []
        for registry in store.registries(project):
            scan = findings.Filters(scan=registry["run"])
            vulnerabilities = findings.page(store, project, "vulnerabilities", scan, 0, 1)
            violations = findings.page(store, project, "violations", scan, 0, 1)
            run = store.run(project, registry["run"])
            registries.append(
                {
                    "registry": registry["registry"],
                    "run": registry["run"],
                    "scan": run["scan_id"] if run else "",
                    "scanned_at": (run["finished_at"] or run["started_at"]) if run else None,
                    "vulnerabilities": dict(vulnerabilities.counts),
                    "matched": store.matched(registry["run"]),  # (none found is not none looked for)
                    "violations": dict(violations.counts),
                    "trend": [
                        {"run": number, "vulnerabilities": counts}
                        for number, counts in store.trend(project, registry["registry"], "vulnerability")
                    ],
                }
            )
        return registries

    def shown(registry: dict[str, Any]) -> dict[str, Any]:
        """A registry of `overview` as the project's page shows it: the time in words, the trend drawn."""
        trend = [(point["run"], point["vulnerabilities"]) for point in registry["trend"]]
        scanned = _shown_time(registry["scanned_at"]) if registry["scanned_at"] else ""
        return {**registry, "scanned_at": scanned, "trend": bars(trend)}

    # -- the pages ---------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        token = session_token(request)
        return RedirectResponse(f"/projects/{quote(token['project'], safe='')}" if token else "/login", 303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "") -> HTMLResponse:
        return render(request, "login.html", next=_local(next))

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "",
    ) -> Response:
        back = _local(next)
        if not secrets.compare_digest(csrf_token.encode(), csrf(request).encode()):
            return render(request, "login.html", 403, error="The form expired: try again.", next=back)
        row = tokens.check(store, token.strip())
        if row is None:
            return render(request, "login.html", 401, error="This token is not valid (or was revoked).", next=back)
        if row["role"] not in READERS:
            error = "A submit token sends scans; it cannot open the console."
            return render(request, "login.html", 403, error=error, next=back)
        request.session.clear()
        sid = secrets.token_urlsafe(24)
        now = time.monotonic()
        for old in [key for key, (_, began) in list(live.items()) if now - began > SESSION_SECONDS]:
            live.pop(old, None)  # (logins run on a pool's threads: list() is taken at once, a key gone is no error)
        live[sid] = (row["id"], now)
        request.session.update(sid=sid, csrf=secrets.token_urlsafe(24))
        home = f"/projects/{quote(row['project'], safe='')}"
        return RedirectResponse(back if back == home or back.startswith(home + "/") else home, 303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        if secrets.compare_digest(csrf_token.encode(), csrf(request).encode()):
            live.pop(str(request.session.get("sid")), None)
            request.session.clear()
        return RedirectResponse("/login", 303)

    @app.get("/projects/{project}", include_in_schema=False)
    def project_page(request: Request, project: str) -> HTMLResponse:
        token = page_reader(request, project)
        registries = [shown(registry) for registry in overview(project)]
        return render(request, "project.html", project=project, token=token, registries=registries, trend=TREND)

    def findings_page(request: Request, project: str, kind: str) -> HTMLResponse:
        token = page_reader(request, project)
        params = dict(request.query_params)
        filters = filters_of(project, {name: value for name, value in params.items() if name != "page"})
        number = findings.query_number(params.get("page", "")) or 1  # (what is no page number: the first)
        found = findings.page(store, project, kind, filters, (number - 1) * findings.PAGE, links=True)
        if not found.items and found.total:  # past the end (a link kept while the findings shrank): the last
            number = -(-found.total // findings.PAGE)
            found = findings.page(store, project, kind, filters, (number - 1) * findings.PAGE, links=True)
        kept = {k: v for k, v in params.items() if k != "page" and v}

        def link(page_number: int) -> str:
            return f"/projects/{quote(project, safe='')}/{kind}?{urlencode({**kept, 'page': page_number})}"

        pages = max(1, -(-found.total // findings.PAGE))
        return render(
            request,
            f"{kind}.html",
            project=project,
            token=token,
            found=found,
            filters=params,
            number=number,
            pages=pages,
            query=urlencode(kept),
            previous=link(number - 1) if number > 1 else None,
            following=link(number + 1) if number < pages else None,
            scans=choices(project, filters.scan),
        )

    @app.get("/projects/{project}/vulnerabilities", include_in_schema=False)
    def vulnerabilities_page(request: Request, project: str) -> HTMLResponse:
        return findings_page(request, project, "vulnerabilities")

    @app.get("/projects/{project}/violations", include_in_schema=False)
    def violations_page(request: Request, project: str) -> HTMLResponse:
        return findings_page(request, project, "violations")

    @app.get("/projects/{project}/image", include_in_schema=False)
    def image_page(
        request: Request, project: str, repository: str = "", tag: str = "", registry: str = "", run: str = ""
    ) -> HTMLResponse:
        """One image's latest scan (or its scan in ``run``): each platform's packages (with the layer that
        brought each), its vulnerabilities and its config checks; and every scan of it."""
        token = page_reader(request, project)
        number = findings.query_number(run)
        among = store.scan_runs(project, number) if number and store.run(project, number) else None
        scanned = store.last_scanned(project, repository, tag, among=among) if repository and tag else []
        scanned = [(row, doc) for row, doc in scanned if not registry or row["registry"] == registry]
        if not scanned or (number is not None and among is None):
            raise HTTPException(404, "No such image in this project" + (f" in run {number}" if number else ""))
        registry = scanned[0][0]["registry"]  # (two registries may hold a repository of that name)
        scanned = [(row, doc) for row, doc in scanned if row["registry"] == registry]
        platforms = []
        for row, document in scanned:
            layers = {diff_id: n for n, diff_id in enumerate(document.get("layers") or (), 1)}
            packages = sorted(document.get("packages") or (), key=lambda p: (p.get("type", ""), p.get("name", "")))
            query = {"registry": row["registry"], "repository": row["repository"], "tag": row["tag"]}
            query.update(platform=row["platform"], run=row["run"])
            platforms.append(
                {
                    "exports": {
                        name: f"/projects/{quote(project, safe='')}/export/image?{urlencode({**query, 'format': name})}"
                        for name in ("sarif", "cyclonedx")
                    },
                    "platform": row["platform"],
                    "digest": row["digest"],
                    "run": row["run"],
                    "scanned_at": _shown_time(row["scanned_at"]),
                    "os": document.get("os") or "unknown",
                    "layers": layers,
                    "packages": packages,
                    "vulnerabilities": sorted(
                        document.get("vulnerabilities") or (), key=lambda v: (-rank(v.get("severity", "")), v["id"])
                    ),
                    "violations": sorted(
                        document.get("violations") or (), key=lambda c: (-rank(c.get("severity", "")), c["id"])
                    ),
                    "matched": "vulnerabilities" in document,
                }
            )
        image = scanned[0][1].get("image", f"{repository}:{tag}")
        shown = {(row["run"], row["platform"]) for row, _ in scanned}
        history = store.image_history(project, registry, repository, tag)
        digests: dict[str, str] = {}  # each platform's digest in its scan before
        for scan in reversed(history):  # oldest first
            platform, digest = scan["platform"], scan["digest"]
            # a platform not seen before is new to a tag seen before: an image that became an index
            before = digests.get(platform, digest if not digests or digest in digests.values() else "")
            scan.update(
                scanned_at=_shown_time(scan["scanned_at"]),
                shown=(scan["run"], platform) in shown,
                moved=before != digest,
                link=findings.image_link(project, registry, repository, tag, scan["run"]),
            )
            digests[platform] = digest
        return render(
            request, "image.html", project=project, token=token, image=image, platforms=platforms, history=history,
            latest=number is None, latest_link=findings.image_link(project, registry, repository, tag),
        )  # fmt: skip

    @app.get("/projects/{project}/layers", include_in_schema=False)
    def layers_page(request: Request, project: str, scan: str = "") -> HTMLResponse:
        """The layers shared by several images that bring them vulnerabilities: a base image to rebuild
        on brings the fix to every image above it."""
        token = page_reader(request, project)
        number = findings.query_number(scan)
        if number is not None:
            scanned_run(project, number, scan)
        rows = store.by_layer(project, findings.scan_runs(store, project, number))
        layers = [
            {
                "layer": row["layer"],
                "findings": row["findings"],
                "images": row["images"],
                "worst": LEVELS[row["worst"]],
                "link": f"/projects/{quote(project, safe='')}/vulnerabilities?{urlencode({'layer': row['layer']})}",
            }
            for row in rows
        ]
        return render(request, "layers.html", project=project, token=token, layers=layers)

    @app.get("/projects/{project}/changes", include_in_schema=False)
    def changes_page(request: Request, project: str) -> HTMLResponse:
        """What changed in a scan (by default each registry's latest) since each image's previous scan, or
        since the scan of run `since`."""
        token = page_reader(request, project)
        scan, since = (findings.query_number(request.query_params.get(name, "")) for name in ("scan", "since"))
        if 0 in (scan, since):
            raise HTTPException(422, "scan and since are runs' numbers")
        rows = {scan: scanned_run(project, scan)} if scan is not None else {}
        baseline = None  # (the runs of the scan of `since`: each image's previous scan, if not named)
        if since is not None:
            rows[since], baseline = scan_with_images(project, since, then=": nothing to compare with")
        latest = store.registries(project)
        if since is not None:  # (a scan is compared with one of its own registry)
            registry = rows[since]["registry"]
            if scan is not None and rows[scan]["registry"] != registry:
                raise HTTPException(422, f"Run {since} scanned another registry than run {scan}: pick one of its own")
            latest = [r for r in latest if r["registry"] == registry]
        chosen = [scan] if scan is not None else [registry["run"] for registry in latest]
        compared = []
        for run in chosen:
            before, found = changes(store, project, store.scan_runs(project, run), baseline)
            registry = store.run(project, run)["registry"]  # type: ignore[index]
            listed = []
            for change in found:  # (host/repository:tag)
                repository, _, tag = change.image.partition("/")[2].rpartition(":")
                listed.append({**asdict(change), "link": findings.image_link(project, registry, repository, tag, run)})
            compared.append({"run": run, "registry": registry, "before": before, "changes": listed})
        return render(
            request, "changes.html", project=project, token=token, compared=compared,
            scans=choices(project, scan, since), scan=scan, since=since,
        )  # fmt: skip

    @app.get("/projects/{project}/export/image", include_in_schema=False)
    def image_export(
        request: Request,
        project: str,
        registry: str = "",
        repository: str = "",
        tag: str = "",
        platform: str = "",
        format: str = "sarif",
        run: str = "",
    ) -> Response:
        """One image platform's scan in ``run`` (by default its latest) as SARIF (GitHub code scanning) or
        a CycloneDX SBOM."""
        page_reader(request, project)
        number = findings.query_number(run)
        among = [number] if number is not None else None
        scanned = [
            (row, document)
            for row, document in store.last_scanned(project, repository, tag, platform or None, among)
            if row["registry"] == registry and row["platform"] == platform
        ]
        if not scanned or format not in ("sarif", "cyclonedx"):
            raise HTTPException(404, "No such image platform in this project")
        inventory, host, found, checks = stored_scan(*scanned[0])
        name = f"{repository.replace('/', '-')}-{tag}{'-' + platform.replace('/', '-') if platform else ''}"
        if format == "sarif":
            return attachment(json.dumps(to_sarif(inventory, host, found, checks), indent=2), f"{name}.sarif")
        return attachment(sbom.to_cyclonedx(inventory, host, found), f"{name}.cdx.json")

    @app.get("/projects/{project}/scans/{run}.sarif", include_in_schema=False)
    def scan_sarif(request: Request, project: str, run: str) -> Response:
        """A scan of a registry as one SARIF run, as `tcs-registry results --format sarif` writes it: the
        file to upload to GitHub code scanning."""
        page_reader(request, project)
        number = findings.query_number(run) or 0
        row, scan = scan_with_images(project, number, run, ": nothing to write as SARIF")
        name = report_name(urlsplit(row["registry"]).netloc, f"run-{number}")
        document = registry_sarif(store, project, scan).document()
        return attachment(json.dumps(document, indent=2), f"{name.removesuffix('.csv')}.sarif")

    def choices(project: str, *chosen: int | None) -> list[dict[str, Any]]:
        """The project's scans to pick from (the last 200 runs that scanned images, and those ``chosen``),
        newest first."""
        return [
            {
                "run": row["id"],
                "label": f"run {row['id']} · {urlsplit(row['registry']).netloc} · {_shown_time(row['started_at'])}"
                + (f" · shard {row['shard']} of {row['shards']}" if row["shards"] > 1 else ""),
            }
            for row in store.scans_to_pick(project, [run for run in chosen if run])
        ]

    def admin(request: Request, project: str) -> RowMapping:
        token = page_reader(request, project)
        if token["role"] != "admin":
            raise HTTPException(403, "Only an admin token manages the project's tokens")
        return token

    @app.get("/projects/{project}/tokens", include_in_schema=False)
    def tokens_page(request: Request, project: str) -> HTMLResponse:
        token = admin(request, project)
        rows = store.list_tokens(project)
        return render(request, "tokens.html", project=project, token=token, rows=rows, made=None, roles=tokens.ROLES)

    @app.post("/projects/{project}/tokens", include_in_schema=False)
    def tokens_create(
        request: Request,
        project: str,
        role: Annotated[str, Form()] = "",
        name: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        admin(request, project)
        if not secrets.compare_digest(csrf_token.encode(), csrf(request).encode()):
            raise HTTPException(403, "The form expired: try again")
        if role not in tokens.ROLES:
            raise HTTPException(422, "Choose a role")
        token = admin(request, project)
        _, secret = tokens.create(store, project, role, name.strip()[:100])
        rows = store.list_tokens(project)  # the secret in this page only: never in a cookie or a URL
        return render(request, "tokens.html", project=project, token=token, rows=rows, made=secret, roles=tokens.ROLES)

    @app.post("/projects/{project}/tokens/{token_id}/revoke", include_in_schema=False)
    def tokens_revoke(
        request: Request, project: str, token_id: str, csrf_token: Annotated[str, Form()] = ""
    ) -> Response:
        admin(request, project)
        if not secrets.compare_digest(csrf_token.encode(), csrf(request).encode()):
            raise HTTPException(403, "The form expired: try again")
        number = findings.query_number(token_id)
        if not number:
            raise HTTPException(404, "No such token in this project")
        store.revoke_token(number, project)  # another project's token: nothing
        return RedirectResponse(f"/projects/{quote(project, safe='')}/tokens", 303)

    @app.get("/projects/{project}/{kind}.{extension}", include_in_schema=False)
    def export(request: Request, project: str, kind: str, extension: str) -> Response:
        """Every finding the filters keep, as CSV (cells a spreadsheet would run are neutralised) or JSON."""
        page_reader(request, project)
        if kind not in findings.KINDS or extension not in ("csv", "json"):
            raise HTTPException(404, "Not Found")
        filters = filters_of(project, dict(request.query_params))
        items = findings.page(store, project, kind, filters, 0, EXPORT, most=EXPORT).items  # one query, not pages
        name = f"{project}-{kind}.{extension}"
        if extension == "json":
            return attachment(json.dumps(items), name)
        columns = [c for c in (items[0] if items else {"image": 0}) if c not in ("aliases", "run")]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([safe_cell(str(item.get(c, ""))) for c in columns] for item in items)
        return attachment(text.getvalue(), name, "text/csv; charset=utf-8")

    @app.exception_handler(Exception)
    def failed(request: Request, exc: Exception) -> Response:
        return Response("Internal Server Error", 500, headers=SECURITY_HEADERS, media_type="text/plain")

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> Response:
        """A request of the wrong shape (a form field that is a file, say): said without its input, which
        may hold a token."""
        where = [".".join(str(part) for part in error.get("loc", ())) for error in exc.errors()]
        return errors(request, HTTPException(422, f"Not a request this console takes ({', '.join(where)[:100]})"))

    @app.exception_handler(StarletteHTTPException)  # (the router's 404 and 405 too, FastAPI's own errors)
    def errors(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 303:
            return RedirectResponse(exc.headers["Location"] if exc.headers else "/login", 303)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return render(request, "error.html", exc.status_code, message=str(exc.detail))

    return app


def attachment(text: str, name: str, media_type: str = "application/json") -> Response:
    """A file to save, named ``name``."""
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    return Response(text, media_type=media_type, headers={"Content-Disposition": disposition})


def _shown_time(stamp: str | None) -> str:
    """``2026-12-04T20:35:15.123456Z`` -> ``2026-12-04 20:35 UTC``."""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if stamp and len(stamp) >= 16 else ""


def _local(path: str) -> str:
    """A page of this console to go back to after logging in; anything else (another site) is dropped."""
    return path if path.startswith("/projects/") and "//" not in path and "\\" not in path else ""


TREND = {"width": 300, "height": 48, "gap": 2}


def bars(trend: list[tuple[int, dict[str, int]]]) -> list[dict[str, Any]]:
    """A stacked bar a scan, worst at the bottom, scaled to the highest total: the rectangles of an SVG the
    page draws (drawn here: no script, no request elsewhere)."""
    if not trend:
        return []
    highest = max(sum(counts.values()) for _, counts in trend) or 1
    width = TREND["width"] / max(len(trend), 10)
    drawn = []
    for n, (run, counts) in enumerate(trend):
        bottom = float(TREND["height"])
        for level in reversed(LEVELS):  # CRITICAL first, at the bottom
            height = TREND["height"] * counts.get(level, 0) / highest
            if height:
                bottom -= height
                drawn.append(
                    {"x": n * width, "y": bottom, "width": width - TREND["gap"], "height": height, "level": level,
                     "title": f"run {run}: {counts.get(level, 0)} {level.lower()}"}
                )  # fmt: skip
    return drawn
