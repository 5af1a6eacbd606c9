"""Sending a run to a console (``--console URL --token T --project P``) as it goes: the run begun, its
images and image platforms in batches from a thread of their own, its end. Every request may be sent
again (the console's writes are idempotent), so failures are retried; a console that stays away loses
nothing: the run completes locally, says so once, and `tcs-registry results push` sends it later (the
runs not sent are listed in the state directory's ``unsent.json``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .batches import Batches
from .console.wire import BATCH, image_to_wire, scan_to_wire
from .errors import UsageError
from .files import private_dir, write_private
from .models import ImageDescription
from .store import Scanned, Store, is_own_scan, own_scan_id

log = logging.getLogger("tcs_registry")
UNSENT = "unsent.json"
TIMEOUT = (10, 120)


def console_url(text: str, name: str = "--console") -> str:
    """``--console`` (or what ``name`` says): an http(s) URL, without credentials, query or fragment."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        shown = text.strip().split("@")[-1] if "@" in text else text.strip()  # never a password
        raise UsageError(f"{name} {shown!r}: use the console's URL (no credentials), e.g. https://console.example.com")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def client_key(state_dir: Path, run: int) -> str:
    """This machine's and store's name for a local run, the same however often it is sent."""
    origin = f"{socket.gethostname()}:{state_dir.resolve()}"
    return f"{hashlib.sha256(origin.encode()).hexdigest()[:12]}:{run}"


class Console:
    """A console's API for one project, as a token opens it."""

    def __init__(self, url: str, token: str, project: str, verify: bool | str = True) -> None:
        self.url, self.project = url, project
        self.session = requests.Session()
        retry = Retry(total=4, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.trust_env = True
        self.session.verify = verify

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.url}/api/v1/projects/{quote(self.project, safe='')}{path}"
        try:
            response = self.session.post(where, json=body, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise ConnectionError(f"cannot reach the console at {self.url} ({type(exc).__name__})") from None
        if response.status_code in (401, 403, 404):
            what = {401: "refused the token", 403: "refused the token's role", 404: "has no such project"}
            raise ConnectionError(f"the console at {self.url} {what[response.status_code]} (project {self.project!r})")
        if not response.ok:
            why = ""
            with contextlib.suppress(ValueError, AttributeError):
                detail = response.json().get("detail")
                why = f": {str(detail)[:300]}" if detail else ""
            raise ConnectionError(f"the console at {self.url} answered {response.status_code}{why}")
        try:
            return response.json()
        except ValueError:
            raise ConnectionError(f"the console at {self.url} answered no JSON") from None

    def close(self) -> None:
        self.session.close()


class Submitter:
    """One local run sent to the console as it goes; ``lost`` says why it stopped being sent, if it did."""

    def __init__(self, console: Console, begin: dict[str, Any]) -> None:
        self.console = console
        self.lost: str | None = None
        self.run: int | None = None
        try:
            self.run = int(console.post("/runs", begin)["run"])
        except (ConnectionError, KeyError, TypeError, ValueError) as exc:
            self._lose(exc)
        self._batches: Batches[tuple[str, Any]] = Batches(self._send, "console", BATCH, 4 * BATCH)

    def image(self, image: ImageDescription) -> None:
        if self.lost is None:
            self._batches.put(("image", image))

    def scan(self, scanned: Scanned) -> None:
        if self.lost is None:
            self._batches.put(("scan", scanned))

    def finish(self, status: str, counts: dict[str, int]) -> None:
        self._batches.close()
        if self.lost is None and self.run is not None:
            try:
                self.console.post(f"/runs/{self.run}/finish", {"status": status, **counts})
            except ConnectionError as exc:
                self._lose(exc)
        self.console.close()

    def _send(self, batch: list[tuple[str, Any]]) -> None:
        if self.lost is not None or self.run is None:
            return
        images = [image_to_wire(value) for kind, value in batch if kind == "image"]
        scans = [scan_to_wire(value) for kind, value in batch if kind == "scan"]
        try:
            for body in _requests(images, scans):
                self.console.post(f"/runs/{self.run}/images", body)
        except ConnectionError as exc:
            self._lose(exc)

    def _lose(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = str(exc)
            log.error("%s: the scan goes on here; `tcs-registry results push` sends it later", self.lost)


REQUEST_BYTES = 8 * 1024 * 1024  # a request's JSON, at most (the console takes 32 MiB): big images go fewer at once


def _requests(images: list[dict[str, Any]], scans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies to send: the images in one, the scans in as many as keep each under REQUEST_BYTES."""
    bodies: list[dict[str, Any]] = [{"images": images, "scans": []}] if images else []
    group: list[dict[str, Any]] = []
    size = 0
    for scan in scans:
        weight = len(json.dumps(scan, separators=(",", ":")))
        if group and size + weight > REQUEST_BYTES:
            bodies.append({"images": [], "scans": group})
            group, size = [], 0
        group.append(scan)
        size += weight
    if group:
        bodies.append({"images": [], "scans": group})
    return bodies


def console_scan_id(state_dir: Path, run: int, scan_id: str, given: bool) -> str:
    """The scan's id at the console: --scan-id as given, else the local one named after this store."""
    return scan_id if given else f"{client_key(state_dir, run).split(':')[0]}.{scan_id}"


def push(store: Store, state_dir: Path, run: int, console: Console) -> int:
    """Send a recorded run to the console, whole (what it had already is only written again); its id there."""
    row = store.run(console.project, run)
    if row is None:
        raise UsageError(f"no run {run} in project {console.project!r}; `tcs-registry results` lists the runs")
    scan_id = row["scan_id"] or own_scan_id(run)
    begin = {
        "registry": row["registry"],
        "registry_type": row["registry_type"],
        "mode": row["mode"],
        "scan_id": console_scan_id(state_dir, run, scan_id, not is_own_scan(scan_id)),
        "shard": [row["shard"], row["shards"]],
        "client": client_key(state_dir, run),
    }
    there = int(console.post("/runs", begin)["run"])
    images = [image_to_wire(image) for image in store.images_of_run(console.project, run)]
    scans = []
    for _, document in store.scanned(console.project, [run]):
        found = {key: document.pop(key) for key in ("vulnerabilities", "violations", "ignored") if key in document}
        scans.append({"document": document, "findings": found or None})
    for start in range(0, max(len(images), len(scans)), BATCH):
        body = {"images": images[start : start + BATCH], "scans": scans[start : start + BATCH]}
        console.post(f"/runs/{there}/images", body)
    status = row["status"] if row["status"] in ("complete", "partial", "failed") else "interrupted"
    counts = {"found": row["images_found"], "new": row["images_new"]}
    counts.update(skipped=row["images_skipped"], failed=row["images_failed"])
    console.post(f"/runs/{there}/finish", {"status": status, **counts})
    return there


def remember_unsent(state_dir: Path, run: int, console: str, project: str) -> None:
    path = private_dir(state_dir) / UNSENT
    entries = unsent(state_dir)
    entries.append({"run": run, "console": console, "project": project, "id": str(uuid.uuid4())})
    write_private(path, json.dumps(entries, indent=1))


def unsent(state_dir: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads((state_dir / UNSENT).read_text())
    except (OSError, ValueError):
        return []
    return (
        [e for e in entries if isinstance(e, dict) and isinstance(e.get("run"), int)]
        if isinstance(entries, list)
        else []
    )


def forget_unsent(state_dir: Path, runs: set[int]) -> None:
    left = [entry for entry in unsent(state_dir) if entry["run"] not in runs]
    write_private(private_dir(state_dir) / UNSENT, json.dumps(left, indent=1))
