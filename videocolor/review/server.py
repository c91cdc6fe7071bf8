"""The review page's web server: a handful of routes over a :class:`~videocolor.review.board.Board`.

Built on the standard library's ``http.server``: the page needs six routes, one user and no templates,
sessions or async I/O, so a framework would add a dependency and nothing else. Routes:

- ``GET /``: the page; ``GET /api/board``: the board as JSON;
- ``GET /keyframe/N``, ``/preview/N/NAME``, ``/ref/NAME``: JPEGs of a keyframe, of a keyframe colorized
  with a reference, of a reference picture (names are looked up in the board, never joined to a path);
- ``POST /api/shot/N`` with ``{"reference": NAME}`` or ``{"skip": true|false}``: a choice, saved at once.

A bad request gets a 4xx answer with a one-line JSON ``{"error": ...}``; nothing else is served.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import InputError, OutputError, one_line
from .board import Board

log = logging.getLogger("videocolor")

PAGE = Path(__file__).with_name("page.html")
_MAX_BODY = 4096
_ROUTES = {
    re.compile(r"/api/board"): "board",
    re.compile(r"/keyframe/(\d+)"): "keyframe",
    re.compile(r"/preview/(\d+)/([^/]+)"): "preview",
    re.compile(r"/ref/([^/]+)"): "ref",
}


class _Handler(BaseHTTPRequestHandler):
    board: Board
    page: bytes
    server_version = "videocolor-review"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, self.page, "text/html; charset=utf-8")
        for pattern, route in _ROUTES.items():
            match = pattern.fullmatch(path)
            if match:
                args = [unquote(g) for g in match.groups()]
                return self._answer(lambda: self._get(route, args))  # noqa: B023 (called before the loop goes on)
        self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def do_POST(self) -> None:
        match = re.fullmatch(r"/api/shot/(\d+)", self.path)
        if match is None:
            return self._error(HTTPStatus.NOT_FOUND, f"no such action: {self.path}")
        self._answer(lambda: self._post(int(match.group(1))))

    def _not_allowed(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not used here: GET pages and pictures, POST choices")

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def _get(self, route: str, args: list[str]) -> tuple[bytes, str]:
        if route == "board":
            return json.dumps(self.board.state()).encode(), "application/json"
        if route == "keyframe":
            return self.board.keyframe_jpeg(int(args[0])), "image/jpeg"
        if route == "preview":
            return self.board.preview_jpeg(int(args[0]), args[1]), "image/jpeg"
        return self.board.ref_jpeg(args[0]), "image/jpeg"

    def _post(self, index: int) -> tuple[bytes, str]:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= _MAX_BODY:
            raise ValueError(f"expected a JSON body of at most {_MAX_BODY} bytes")
        body = json.loads(self.rfile.read(length))
        if not isinstance(body, dict) or len(body) != 1:
            raise ValueError('expected {"reference": NAME} or {"skip": true|false}')
        if isinstance(body.get("reference"), str):
            shot = self.board.choose(index, body["reference"])
        elif isinstance(body.get("skip"), bool):
            shot = self.board.skip(index, body["skip"])
        else:
            raise ValueError('expected {"reference": NAME} or {"skip": true|false}')
        return json.dumps(shot).encode(), "application/json"

    def _answer(self, make: Any) -> None:
        """Run a route; its errors become 4xx answers with a one-line message (5xx only for the unforeseen)."""
        try:
            data, kind = make()
        except LookupError as exc:
            return self._error(HTTPStatus.NOT_FOUND, str(exc.args[0] if exc.args else exc))
        except (InputError, OutputError) as exc:  # the override file cannot be read or written
            return self._error(HTTPStatus.CONFLICT, str(exc))
        except json.JSONDecodeError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, f"the body is not JSON ({exc.msg})")
        except ValueError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception as exc:  # answered, logged, and the server goes on
            log.debug("review request %s failed", self.path, exc_info=exc)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, one_line(exc))
        self._send(HTTPStatus.OK, data, kind)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store" if kind != "image/jpeg" else "max-age=3600")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("review: " + format, *args)


def make_server(board: Board, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``board`` bound to ``host:port`` (``port`` 0: any free port); call ``serve_forever``."""
    handler = type("Handler", (_Handler,), {"board": board, "page": PAGE.read_bytes()})
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise OutputError(f"{host}:{port}: cannot listen there ({exc.strerror or exc}); choose another --port") from None
