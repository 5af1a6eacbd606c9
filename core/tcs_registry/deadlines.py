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
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Scope:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cut = False  # the latest request of this scope was shut down at its deadline
        self.sent: float | None = None  # when its latest request went out (time.monotonic)
        self.watches: list[int] = []


class Deadlines:
    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Condition()
        self._watched: list[tuple[float, int, Any]] = []  # (deadline, watch, socket): a heap by deadline
        self._active: dict[int, Scope] = {}  # watches that may still fire
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
            with self._lock:
                for watch in scope.watches:
                    self._active.pop(watch, None)

    def cut(self) -> bool:
        """This thread's latest request (in the scope open now) was shut down at its deadline."""
        scope = getattr(self._local, "scope", None)
        return scope is not None and scope.cut

    def waited(self) -> float:
        """Seconds since this thread's latest request (in the scope open now) went out; 0 if none did."""
        scope = getattr(self._local, "scope", None)
        return 0.0 if scope is None or scope.sent is None else time.monotonic() - scope.sent

    def attach(self, connection: Any) -> None:
        """Watches the connection's socket from now on, if a scope is open in this thread (a request has
        just gone out on it); the watch ends with the scope or when the connection goes back to its pool."""
        scope = getattr(self._local, "scope", None)
        if scope is None or connection.sock is None:
            return
        scope.sent = time.monotonic()
        with self._lock:
            self._active.pop(getattr(connection, "deadline_watch", -1), None)
            watch = connection.deadline_watch = next(self._ids)
            scope.cut = False  # says whether the latest request of the scope was cut
            self._active[watch] = scope
            scope.watches.append(watch)
            heapq.heappush(self._watched, (time.monotonic() + scope.seconds, watch, connection.sock))
            if len(self._watched) > 4096:  # ended watches: dropped now rather than when due
                self._watched = [w for w in self._watched if w[1] in self._active]
                heapq.heapify(self._watched)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            if self._watched[0][1] == watch:  # the watcher sleeps until the earliest deadline: now this one
                self._lock.notify()

    def release(self, connection: Any) -> None:
        """The connection's answer is complete (it goes back to its pool): its watch ends."""
        with self._lock:
            self._active.pop(getattr(connection, "deadline_watch", -1), None)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                while self._watched and (self._watched[0][1] not in self._active or self._watched[0][0] <= now):
                    _, watch, sock = heapq.heappop(self._watched)
                    scope = self._active.pop(watch, None)
                    if scope is not None:  # said before the socket is shut: its reader, woken, must see it
                        scope.cut = True
                        scope.cut = _shut(sock)  # (False: closed already, its answer over)
                self._lock.wait(self._watched[0][0] - now if self._watched else None)


def _shut(sock: Any) -> bool:
    """Shuts a socket down (both ways), so the thread reading from it gets an error or the end at once;
    False if it was closed already (its answer over). Through an HTTPS proxy the socket is urllib3's
    TLS-in-TLS wrapper: the socket under it is shut."""
    for candidate in (sock, getattr(sock, "socket", None)):
        shutdown = getattr(candidate, "shutdown", None)
        if shutdown is not None:
            try:
                shutdown(socket.SHUT_RDWR)
            except OSError:
                return False
            return True
    return False


DEADLINES = Deadlines()


class _Watched:
    """A urllib3 connection whose answers DEADLINES watches, from the request sent to the release."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        DEADLINES.attach(self)

    # Not released on close(): http.client closes the connection of an answer without a length (it
    # ends with the connection) as soon as its headers are read, while its body is still to come.


class _Releasing:
    """A urllib3 pool: a connection back in it has finished its answer."""

    def _put_conn(self, conn: Any) -> None:
        DEADLINES.release(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(_Releasing, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_Releasing, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP(S) proxy) are watched by DEADLINES;
    through a SOCKS proxy, which brings connection classes of its own, each read has its timeout only."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager
