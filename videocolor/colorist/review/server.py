"""The review page's web server: a handful of routes over a :class:`~videocolor.colorist.review.board.Board`.

Built on the standard library's ``http.server``: the page needs six routes, one user and no templates,
sessions or async I/O, so a framework would add a dependency and nothing else. Routes:

- ``GET /``: the page; ``GET /api/board``: the board as JSON;
- ``GET /keyframe/N``, ``/preview/N/NAME``, ``/ref/NAME``: JPEGs of a keyframe, of a keyframe colorized
  with a reference, of a reference picture (names are looked up in the board, never joined to a path);
- ``POST /api/shot/N`` with ``{"reference": NAME}`` or ``{"skip": true|false}``: a choice, saved at once.

Only this machine's own page may read or change anything, though any website the colorist visits can send
requests to the port, and a name of the attacker's can resolve to 127.0.0.1 (DNS rebinding):

- every request must name the served address in ``Host`` (``127.0.0.1:PORT``, ``localhost:PORT``, the
  ``host`` given; for a wildcard host, which needs ``allow_remote``, any IP address: an address cannot be
  rebound, a name can), else 421;
- every route but the page needs the run's random token, which only the page holds (foreign pages cannot
  read it): in the ``X-Videocolor-Token`` header, or for pictures as ``?token=`` (an ``<img>`` sends no
  header; a cookie would not do, since cookies ignore ports and ``SameSite`` treats ``127.0.0.1:OTHER`` as
  the same site); a browser's ``Sec-Fetch-Site``, where sent, must say ``same-origin`` (or ``none``: typed in);
- a POST also needs ``Content-Type: application/json`` and an ``Origin`` equal to ``http://`` + ``Host``.
  A POST without ``Origin`` is refused: every current browser sends it on a POST, and a script of the
  user's can send it as well as the token;
- every answer forbids framing and content sniffing, and ``Cross-Origin-Resource-Policy: same-origin``
  stops other origins from embedding its pictures.

A bad request gets a 4xx answer with a one-line JSON ``{"error": ...}``; nothing else is served. A client
that hangs up or stays silent past ``timeout`` is dropped, logged at DEBUG only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import InputError, OutputError, one_line
from .board import Board

log = logging.getLogger("videocolor")

PAGE = Path(__file__).with_name("page.html")
TOKEN_HEADER = "X-Videocolor-Token"
_MAX_BODY = 4096
MAX_CONNECTIONS = 32  # open at once; the page itself needs a handful (the board, its pictures)
_MAX_DRAINED = 16 << 20  # a larger body is not even read: the connection is closed
_ROUTES = {
    re.compile(r"/api/board"): "board",
    re.compile(r"/keyframe/(\d+)"): "keyframe",
    re.compile(r"/preview/(\d+)/([^/]+)"): "preview",
    re.compile(r"/ref/([^/]+)"): "ref",
}
_WILDCARDS = ("", "0.0.0.0", "::")


class _Handler(BaseHTTPRequestHandler):
    board: Board
    page: bytes
    token: str
    hosts: frozenset[str]  # the Host values served, lower case
    any_ip_host: bool  # a wildcard address served on purpose: any IP address (never a name) with the port
    port: int
    csp: str
    server_version = "videocolor-review"
    sys_version = ""
    _head = False

    def do_HEAD(self) -> None:
        self._head = True
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_served():
            return
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, self.page, "text/html; charset=utf-8")
        if not self._token_given(parse_qs(url.query).get("token", [""])[-1]):
            return
        for pattern, route in _ROUTES.items():
            match = pattern.fullmatch(url.path)
            if match:
                args = [unquote(g) for g in match.groups()]
                return self._answer(lambda: self._get(route, args))  # noqa: B023 (called before the loop goes on)
        self._error(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")

    def do_POST(self) -> None:
        body = self._body()  # read first: an answer that leaves the body unread can reach the client as a reset
        if not self._host_served():
            return
        origin = self.headers.get("Origin")
        if origin is None or origin.strip().lower() != f"http://{self.headers['Host'].strip()}".lower():
            return self._error(HTTPStatus.FORBIDDEN, f"a POST from another origin ({origin or 'none given'}) is refused")
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            return self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected Content-Type: application/json")
        if not self._token_given():
            return
        match = re.fullmatch(r"/api/shot/(\d+)", self.path)
        if match is None:
            return self._error(HTTPStatus.NOT_FOUND, f"no such action: {self.path}")
        self._answer(lambda: self._post(int(match.group(1)), body))

    def _not_allowed(self) -> None:
        if self._host_served():
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not used here: GET pages and pictures, POST choices")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _host_served(self) -> bool:
        """Whether ``Host`` names the address served (not a name of someone else's pointing here); else a 421."""
        hosts = self.headers.get_all("Host") or []
        host = hosts[0].strip().lower() if len(hosts) == 1 else ""
        if host in self.hosts or (self.any_ip_host and _ip_host(host, self.port)):
            return True
        self._error(HTTPStatus.MISDIRECTED_REQUEST, f"this server answers only for {' or '.join(sorted(self.hosts))}")
        return False

    def _token_given(self, query: str = "") -> bool:
        """Whether the request carries this run's token (header, or ``query`` for pictures) from the page; else a 403."""
        given = self.headers.get(TOKEN_HEADER) or query
        fetch_site = self.headers.get("Sec-Fetch-Site", "none")  # "none": typed in the address bar, or not a browser
        if hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode()) and fetch_site in ("same-origin", "none"):
            return True
        self._error(HTTPStatus.FORBIDDEN, "only the review page itself may ask for this: reload it")
        return False

    def _get(self, route: str, args: list[str]) -> tuple[bytes, str]:
        if route == "board":
            return json.dumps(self.board.state()).encode(), "application/json"
        if route == "keyframe":
            return self.board.keyframe_jpeg(int(args[0])), "image/jpeg"
        if route == "preview":
            return self.board.preview_jpeg(int(args[0]), args[1]), "image/jpeg"
        return self.board.ref_jpeg(args[0]), "image/jpeg"

    def _body(self) -> bytes:
        """The request's body; empty without a Content-Length, or past ``_MAX_BODY`` bytes (then read and dropped)."""
        length = self.headers.get("Content-Length", "").strip()
        if not re.fullmatch(r"[0-9]{1,15}", length):
            return b""
        if int(length) > _MAX_BODY:
            for start in range(0, min(int(length), _MAX_DRAINED), 65536):
                if not self.rfile.read(min(65536, int(length) - start)):
                    break
            return b""
        return self.rfile.read(int(length))

    def _post(self, index: int, data: bytes) -> tuple[bytes, str]:
        if not data:
            raise ValueError(f"expected a JSON body of 1 to {_MAX_BODY} bytes with its Content-Length")
        try:
            body = json.loads(data)
        except RecursionError:
            raise ValueError("the JSON body is nested too deeply") from None
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
        except (ConnectionError, TimeoutError):  # the client is gone: nobody to answer
            raise
        except LookupError as exc:
            return self._error(HTTPStatus.NOT_FOUND, str(exc.args[0] if exc.args else exc))
        except (InputError, OutputError) as exc:  # the override file cannot be read or written
            return self._error(HTTPStatus.CONFLICT, str(exc))
        except json.JSONDecodeError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, f"the body is not JSON ({exc.msg})")
        except ValueError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, one_line(exc) if isinstance(exc, UnicodeError) else str(exc))
        except Exception as exc:  # answered, logged, and the server goes on
            log.debug("review request %s failed", self.path, exc_info=exc)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, one_line(exc))
        self._send(HTTPStatus.OK, data, kind)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """``http.server``'s own errors (bad request line, unknown method...) in the same form as ours."""
        self.close_connection = True
        self._error(HTTPStatus(code), message or HTTPStatus(code).phrase)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "private, max-age=3600" if kind == "image/jpeg" else "no-store")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD, POST")
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if not self._head:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("review: " + format, *(str(a).replace(self.token, "<token>") for a in args))  # DEBUG logs get shared


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``MAX_CONNECTIONS`` at once: a connection beyond them is closed at once,
    so a flood of idle sockets cannot make the process start a thread for each."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            log.debug("review: %s refused: %d connections open already", client_address, MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: its slot is free again
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or went silent is no news (DEBUG); anything else is one line, never a traceback."""
        exc = sys.exc_info()[1]
        log.debug("review: request from %s ended: %r", client_address, exc, exc_info=exc)
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            log.warning("review: a request from %s failed: %s", client_address[0], one_line(exc))


def make_server(
    board: Board, host: str = "127.0.0.1", port: int = 8765, *, allow_remote: bool = False, timeout: float = 20.0
) -> ThreadingHTTPServer:
    """A server for ``board`` bound to ``host:port`` (``port`` 0: any free port, 1-65535 otherwise); call ``serve_forever``.

    ``host`` must be this machine's loopback (``127.0.0.1``, ``::1``, ``localhost``) unless ``allow_remote``:
    then anyone who can reach the port can see the film and change the choices (a warning says so). A
    connection silent for ``timeout`` seconds is closed. The page's token is the server's ``token``.
    Raises ``InputError`` for a bad host or port, ``OutputError`` when the address cannot be listened on.
    """
    check_address(host, port, allow_remote=allow_remote)
    if not _loopback(host):
        log.warning("review: serving on %s: anyone who can reach port %s can see the film and change the choices", host or "every address", port)
    token = secrets.token_urlsafe(32)
    page = PAGE.read_text(encoding="utf-8")
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
                      for m in re.findall(r"<(?:script|style)>(.*?)</(?:script|style)>", page, re.S))
    csp = (f"default-src 'none'; script-src {hashes}; style-src {hashes}; img-src 'self'; connect-src 'self'; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("Server", (_Server,), {"address_family": family})
    handler = type("Handler", (_Handler,), {"board": board, "page": page.replace("{{TOKEN}}", token).encode(), "token": token,
                                            "csp": csp, "timeout": timeout, "any_ip_host": host in _WILDCARDS})
    try:
        server = server_class((host, port), handler)
    except (OSError, TypeError, ValueError) as exc:  # TypeError, ValueError: a host name that cannot be encoded
        raise OutputError(f"{host}:{port}: cannot listen there ({getattr(exc, 'strerror', None) or exc}); choose another --host "
                          "or --port") from None
    port = server.server_address[1]
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host} - {""}
    handler.hosts = frozenset(f"{name}:{port}".lower() for name in names) | (frozenset(n.lower() for n in names) if port == 80 else frozenset())
    handler.port = port
    server.token = token
    return server


def check_address(host: str, port: int, *, allow_remote: bool = False) -> None:
    """``InputError`` unless ``port`` is 0 to 65535 and ``host`` is this machine's loopback (or ``allow_remote``)."""
    if type(port) is not int or not 0 <= port <= 65535:
        raise InputError(f"port {port!r}: give 0 (any free port) to 65535")
    if not (allow_remote or _loopback(host)):
        raise InputError(f"--host {host}: not this machine's loopback address, so anyone who can reach it could see the "
                         "film and change the choices; pass --allow-remote to serve it anyway")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ip_host(host: str, port: int) -> bool:
    """Whether ``host`` (a Host header) is an IP address with ``port``: a name could be anyone's, an address is this one."""
    name, _, given = host.rpartition(":")
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return given == str(port)
