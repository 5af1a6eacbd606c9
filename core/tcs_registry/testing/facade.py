"""Vendor API facades for tests: a small HTTP server on loopback that answers a vendor's documented
API (routes written per vendor) and serves image data from the real CNCF registry behind it.

Each vendor test writes only its routes; the server, request parsing, auth helpers, forwarding to
the real registry and reading what the registry stores are here, once.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import secrets
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests

from ..oci import MANIFEST_ACCEPT

Answer = tuple[int, dict[str, str], bytes]
CUT_AFTER = "X-Facade-Cut-After"  # an answer header: send only this many bytes of the body, then hang up
TRICKLE = "X-Facade-Trickle"  # an answer header: send the whole answer one byte every this many seconds
TRICKLE_BODY = "X-Facade-Trickle-Body"  # the same, for the body only: the headers go at once
RESET = "X-Facade-Reset"  # an answer header: hang up without answering at all
NO_LENGTH = "X-Facade-No-Length"  # an answer header: no Content-Length, the body ends when the connection does
Handler = Callable[..., "Answer | None"]
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server", "date"}
SO_TIMESTAMPNS = 35  # Linux (asm-generic/socket.h); the socket module does not name it
_arrival = threading.local()


def arrived() -> float:
    """When the request this thread is answering reached the facade (time.monotonic()'s clock): the kernel's
    receive time where it keeps one, so that a rate limit judges the requests as they came, not as late as
    a busy test process got round to reading them (nginx's ``limit_req``, in C, reads them within
    microseconds; this server's Python threads take milliseconds on a loaded machine)."""
    at = getattr(_arrival, "at", None)
    return time.monotonic() if at is None else at


def _stamping(listener: socket.socket) -> bool:
    """Ask the kernel to stamp what the connections ``listener`` accepts receive, and wait till it does:
    it turns stamping on a moment after the first socket asks (and off when the last is closed), so a
    byte sent to the listener's own connection must come back stamped first. False where it cannot."""
    if not hasattr(listener, "recvmsg"):
        return False
    try:
        listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        for _ in range(100):
            with socket.create_connection(listener.getsockname(), timeout=1.0) as probe:
                probe.sendall(b".")
                accepted, _ = listener.accept()
                with accepted:
                    _, ancillary, _, _ = accepted.recvmsg(1, socket.CMSG_SPACE(16))
            if _stamp(ancillary) is not None:
                return True
            time.sleep(0.01)
    except OSError:
        pass
    return False


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's receive time in ancillary data (SCM_TIMESTAMPNS, a 64-bit timespec), on
    time.monotonic()'s clock."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) == 16:
            seconds, nanoseconds = struct.unpack("qq", data)
            before = time.monotonic()  # (the two clocks read as close together as Python can)
            offset = time.time() - (before + time.monotonic()) / 2
            return seconds + nanoseconds / 1e9 - offset
    return None


class _Stamped(io.RawIOBase):
    """A plain connection's bytes, with the time the kernel received the latest of them (SO_TIMESTAMPNS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.at = sock, None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size, ancillary, _, _ = self.sock.recvmsg_into([buffer], socket.CMSG_SPACE(16))
        if size:
            self.at = _stamp(ancillary)
        return size


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


def text_answer(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, text.encode()


@dataclass
class Request:
    method: str
    target: str  # path and query as sent
    headers: Message
    body: bytes = b""
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        # Routes see the path decoded once, as a server's router does (Harbor's double-encoded
        # repository names keep one level of encoding in their path segment).
        self.path, self.query = unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def basic(self) -> tuple[str, str] | None:
        """(user, password) of a Basic Authorization header, if any."""
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (repeated fields joined by spaces)."""
        return {k: " ".join(v) for k, v in parse_qs(self.body.decode()).items()}

    def bearer(self) -> str | None:
        header = self.headers.get("Authorization", "")
        return header[7:] if header.lower().startswith("bearer ") else None


class _Trickle:
    """A connection's writer that sends one byte every ``seconds``, status line and headers included,
    until the client hangs up."""

    def __init__(self, out: Any, seconds: float) -> None:
        self.out, self.seconds, self.gone = out, seconds, False

    @property
    def closed(self) -> bool:
        return self.out.closed

    def write(self, data: bytes) -> int:
        for i in range(len(data)):
            if self.gone:
                break
            try:
                self.out.write(data[i : i + 1])
                self.out.flush()
            except OSError:  # the client hung up
                self.gone = True
                break
            time.sleep(self.seconds)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.out.close()


class Facade:
    """Routes are tried in order; a handler returns an Answer, or None to try the next route."""

    def __init__(self, upstream: str, name: str = "facade", tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.scheme = "https" if tls else "http"
        self.name = name
        self.session = requests.Session()
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.tokens: dict[str, str] = {}  # bearer tokens this facade issued -> user
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        if tls is not None:  # e.g. a context from trustme's CA.issue_cert(...).configure_cert()
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        # plain connections are stamped as their bytes come (they inherit it from the listener, so bytes that
        # came before the accept are too); without it, arrivals are read times
        self.stamped = tls is None and _stamping(self._server.socket)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register ``handler(request, **groups)`` for paths that fully match ``pattern``."""

        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(pattern), handler))
            return handler

        return register

    # -- helpers for vendor routes --------------------------------------------------------------
    def issue_token(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = user
        return token

    def forward(self, request: Request, path: str | None = None) -> Answer:
        """Answer from the real registry (``path`` replaces the request path; the query is kept)."""
        parts = urlsplit(request.target)
        target = (quote(path) if path else parts.path) + (f"?{parts.query}" if parts.query else "")
        headers = {"Accept": request.headers.get("Accept") or MANIFEST_ACCEPT}
        answer = self.session.request(request.method, self.upstream + target, headers=headers, allow_redirects=False)
        return answer.status_code, dict(answer.headers), answer.content

    def upstream_json(self, path: str) -> Any:
        answer = self.session.get(self.upstream + path, headers={"Accept": MANIFEST_ACCEPT})
        answer.raise_for_status()
        return answer.json()

    def upstream_manifest(self, repository: str, reference: str) -> tuple[dict[str, Any], str]:
        """(manifest JSON, its digest) from the real registry."""
        answer = self.session.get(
            f"{self.upstream}/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        answer.raise_for_status()
        return answer.json(), answer.headers["Docker-Content-Digest"]

    # -- server -----------------------------------------------------------------------------
    def _dispatch(self, request: Request) -> Answer:
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                answer = handler(request, **match.groupdict())
                if answer is not None:
                    return answer
        return json_answer({"errors": [{"code": "NOT_FOUND", "message": f"{self.name}: no route"}]}, 404)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        facade = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            stamped: _Stamped | None = None

            def setup(self) -> None:
                super().setup()
                if facade.stamped:
                    self.stamped = _Stamped(self.connection)
                    self.rfile = io.BufferedReader(self.stamped)

            def _serve(self) -> None:
                _arrival.at = self.stamped.at if self.stamped else None
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, self.path, self.headers, self.rfile.read(length) if length else b"")
                facade.requests.append(request)
                status, headers, body = facade._dispatch(request)
                if headers.pop(RESET, None) is not None:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                cut = headers.pop(CUT_AFTER, None)  # a fault to inject: the connection breaks mid-body
                trickle = headers.pop(TRICKLE, None)  # another: an answer that never stops coming, nor ends
                trickle_body = headers.pop(TRICKLE_BODY, None)
                unmeasured = headers.pop(NO_LENGTH, None) is not None
                if trickle is not None:
                    self.wfile = _Trickle(self.wfile, float(trickle))
                    self.close_connection = True
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, value)
                if unmeasured:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if trickle_body is not None:
                    self.wfile = _Trickle(self.wfile, float(trickle_body))
                    self.close_connection = True
                if self.command != "HEAD":
                    self.wfile.write(body if cut is None else body[: int(cut)])
                if cut is not None:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

            do_GET = do_HEAD = do_POST = _serve

        return Handler

    def __enter__(self) -> Facade:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class StoredRegistry:
    """What the real registry holds, read from its storage directory: every repository, every
    manifest (tagged or not, which the V2 API cannot list) and every tag."""

    def __init__(self, storage: Path) -> None:
        self.root = storage / "docker" / "registry" / "v2" / "repositories"

    def repositories(self) -> list[str]:
        return sorted(str(p.parent.relative_to(self.root)) for p in self.root.rglob("_manifests"))

    def manifests(self, repository: str) -> list[str]:
        revisions = self.root / repository / "_manifests" / "revisions" / "sha256"
        return sorted(f"sha256:{p.name}" for p in revisions.iterdir()) if revisions.is_dir() else []

    def tags(self, repository: str) -> dict[str, str]:
        """tag -> manifest digest."""
        tags = self.root / repository / "_manifests" / "tags"
        if not tags.is_dir():
            return {}
        return {p.name: (p / "current" / "link").read_text().strip() for p in sorted(tags.iterdir())}
