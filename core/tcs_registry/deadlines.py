"""A deadline for each answer as a whole, not only for each read.

The read timeout bounds one wait for bytes; a server that trickles its answer a byte at a time never
trips it and would hold a worker for ever. Here one thread for the whole process watches the socket of
every request sent inside a `DEADLINES.scope(seconds)` and shuts it down when the answer has taken
longer than that: the request then fails, or is tried again, as if the connection had broken, and the
scope says it was cut (`Scope.cut`) so the error can say why.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Scope:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cut = False  # a connection of this scope was shut down at its deadline
        self.closed = False
        self.current: dict[int, int] = {}  # socket id -> its latest watch (a reused connection's earlier ones lapse)


class Deadlines:
    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Condition()
        self._watched: list[tuple[float, int, socket.socket, Scope]] = []  # a heap by deadline
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def scope(self, seconds: float) -> Iterator[Scope]:
        """Requests sent by this thread inside the block get ``seconds`` each for their whole answer."""
        scope, previous = Scope(seconds), getattr(self._local, "scope", None)
        self._local.scope = scope
        try:
            yield scope
        finally:
            self._local.scope = previous
            scope.closed = True

    def attach(self, sock: socket.socket | None) -> None:
        """Watches ``sock`` from now on, if a scope is open in this thread (a request has just gone out)."""
        scope = getattr(self._local, "scope", None)
        if scope is None or sock is None:
            return
        with self._lock:
            watch = next(self._ids)
            scope.current[id(sock)] = watch
            heapq.heappush(self._watched, (time.monotonic() + scope.seconds, watch, sock, scope))
            if len(self._watched) > 4096:  # finished scopes' watches: dropped now rather than when due
                self._watched = [w for w in self._watched if not w[3].closed]
                heapq.heapify(self._watched)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            if self._watched[0][1] == watch:  # the watcher sleeps until the earliest deadline: now this one
                self._lock.notify()

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                while self._watched and (self._watched[0][3].closed or self._watched[0][0] <= now):
                    _, watch, sock, scope = heapq.heappop(self._watched)
                    if not scope.closed and scope.current.get(id(sock)) == watch and sock.fileno() != -1:
                        scope.cut = True
                        with suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                self._lock.wait(self._watched[0][0] - now if self._watched else None)


DEADLINES = Deadlines()


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        DEADLINES.attach(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        DEADLINES.attach(self.sock)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) are watched by DEADLINES."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS proxies bring connection classes of their own
            manager.pool_classes_by_scheme = _POOLS
        return manager
