"""A local HTTP server on 127.0.0.1 that answers like the live APIs, from recorded bodies."""

# Each path has a queue of replies; the last one repeats. A reply can be slow, cut short, or any
# status with any headers, so tests can play timeouts, 429s, 5xx and truncated bodies.

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer starts
    cut_after: int | None = None  # send only this many body bytes, then drop the connection


def fixture(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def json_reply(relative: str, status: int = 200, **headers: str) -> Reply:
    return Reply(status, fixture(relative), {"Content-Type": "application/json", **headers})


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, str]
    at: float  # time.monotonic() when the request arrived


class RecordedApi:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self, path: str, *replies: Reply) -> None:
        """Answer `path` with `replies` in order, repeating the last; forget earlier requests."""
        with self._lock:
            self.routes[path] = list(replies)
            self.requests = [r for r in self.requests if r.path != path]

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _next(self, path: str) -> Reply:
        with self._lock:
            queue = self.routes.get(path)
            if not queue:
                return Reply(404, b'{"message": "Object not found"}')
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with api._lock:
                    api.requests.append(Seen(url.path, query, time.monotonic()))
                reply = api._next(url.path)
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.cut_after is None:
                        self.wfile.write(reply.body)
                    else:
                        self.wfile.write(reply.body[: reply.cut_after])
                        self.wfile.flush()
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timed out) first

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def recorded_api() -> Iterator[RecordedApi]:
    api = RecordedApi()
    api.start()
    try:
        yield api
    finally:
        api.stop()
