"""A reverse proxy in front of the real registry, with hooks to change chosen answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# A rewrite gets (path with query, upstream session, upstream base URL) and returns
# (status, headers, body) to answer itself, or None to pass the request through.
Rewrite = Callable[[str, requests.Session, str], "tuple[int, dict[str, str], bytes] | None"]
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class Proxy:
    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        self.upstream = upstream.rstrip("/")
        self.rewrite = rewrite
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []  # the Authorization header of each request
        self.session = requests.Session()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.paths.append(self.path)
                proxy.authorizations.append(self.headers.get("Authorization"))
                answer = proxy.rewrite(self.path, proxy.session, proxy.upstream)
                if answer is None:
                    upstream = proxy.session.get(
                        proxy.upstream + self.path,
                        headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                        allow_redirects=False,
                    )
                    answer = (upstream.status_code, dict(upstream.headers), upstream.content)
                status, headers, body = answer
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
