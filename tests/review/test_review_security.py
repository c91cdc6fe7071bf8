"""The review page against other websites and bad clients: its own Host only, the token, same-origin JSON POSTs,
headers that forbid framing, sockets that time out, hang-ups without a trace, bad ports and hosts refused."""

from __future__ import annotations

import http.client
import json
import logging
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from videocolor._cli.main import main
from videocolor.analysis.overrides import read_overrides
from videocolor.colorist.review import make_server
from videocolor.errors import InputError, OutputError

TOKEN = "X-Videocolor-Token"
PICTURES = ("/keyframe/0", "/preview/0/cat.png", "/ref/coffee.jpg")


def raw(port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> tuple[int, http.client.HTTPMessage, bytes]:
    """A request with exactly ``headers`` (no Host unless given, duplicates kept); the status, headers and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in [*headers, *([("Content-Length", str(len(body)))] if body else [])]:
            connection.putheader(name, value)
        connection.endheaders(body or None)
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


def post(served, body: bytes = b'{"skip": true}', shot: int = 1, **given: str | None) -> tuple[int, bytes]:
    """POST to shot ``shot`` as the page does, with ``given`` headers replaced (``None``: left out; ``_`` for ``-``)."""
    headers = {"Host": f"127.0.0.1:{served.port}", "Origin": served.url, "Content-Type": "application/json", TOKEN: served.token}
    headers.update({k.replace("_", "-"): v for k, v in given.items()})
    status, _, data = raw(served.port, "POST", f"/api/shot/{shot}", [(k, v) for k, v in headers.items() if v is not None], body)
    return status, data


def get(served, path: str, **given: str | None) -> tuple[int, http.client.HTTPMessage, bytes]:
    headers = {"Host": f"127.0.0.1:{served.port}", **{k.replace("_", "-"): v for k, v in given.items()}}
    return raw(served.port, "GET", path, [(k, v) for k, v in headers.items() if v is not None])


def test_only_its_own_host_is_answered(served):
    """DNS rebinding: a name of someone else's that resolves here gets a 421 and nothing of the film."""
    port, before = served.port, served.overrides.read_bytes()
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}"):
        status, _, data = raw(port, "GET", "/", [("Host", host)])
        assert status == 200 and served.token.encode() in data, host
    for hosts in ([f"evil.example:{port}"], ["evil.example"], [f"127.0.0.1:{port + 1}"], [f"localhost.:{port}"],
                  [f"127.0.0.1.nip.io:{port}"], ["127.0.0.1"], [""], [], [f"127.0.0.1:{port}", f"evil.example:{port}"]):
        headers = [("Host", h) for h in hosts]
        for method, path, extra, body in [
            ("GET", "/", [], b""), ("HEAD", "/", [], b""), ("GET", "/api/board", [(TOKEN, served.token)], b""),
            ("GET", f"/keyframe/0?token={served.token}", [], b""), ("OPTIONS", "/", [], b""),
            ("POST", "/api/shot/0", [("Origin", f"http://{hosts[0] if hosts else ''}"), ("Content-Type", "application/json"),
                                     (TOKEN, served.token)], b'{"skip": true}'),
        ]:
            status, _, data = raw(port, method, path, headers + extra, body)
            assert status == 421 and served.token.encode() not in data and b"\xff\xd8" not in data, (hosts, method, path)
    assert served.overrides.read_bytes() == before


def test_a_post_needs_json_its_own_origin_and_the_token(served):
    """What a foreign page can send without a preflight (text/plain, forms) or with a guessed token changes nothing."""
    port, url, token, before = served.port, served.url, served.token, served.overrides.read_bytes()
    form = b'{"skip": "=", "skip": true}'  # what a text/plain form with a crafted field name sends
    refused = [
        (403, {"Content_Type": "text/plain", "Origin": "http://evil.example", TOKEN: None}, form),  # a no-cors fetch
        (415, {"Content_Type": "text/plain"}, form), (415, {"Content_Type": "text/plain;charset=UTF-8"}, form),
        (415, {"Content_Type": "application/x-www-form-urlencoded"}, b"skip=true"),
        (415, {"Content_Type": "multipart/form-data; boundary=x"}, b'--x\r\nContent-Disposition: form-data; name="skip"\r\n\r\ntrue\r\n--x--'),
        (415, {"Content_Type": None}, form), (415, {"Content_Type": "text/json"}, form),
        *[(403, {"Origin": origin}, form) for origin in (
            "http://evil.example", "null", f"http://127.0.0.1:{port + 1}", f"http://localhost:{port}", f"https://127.0.0.1:{port}",
            f"http://127.0.0.1:{port}.evil.example", f"{url}/", "", None)],
        *[(403, {TOKEN: value}, form) for value in (None, "", "guess", token[:-1], token + "x", token.upper(), "é" + token)],
        (403, {"Sec_Fetch_Site": "same-site"}, form), (403, {"Sec_Fetch_Site": "cross-site"}, form),
    ]
    for status, given, body in refused:
        answer = post(served, body, **given)
        assert answer[0] == status and "error" in json.loads(answer[1]), (given, answer)
    status, _, _ = raw(port, "POST", f"/api/shot/1?token={token}", [("Host", f"127.0.0.1:{port}"), ("Origin", url),
                                                                    ("Content-Type", "application/json")], form)
    assert status == 403  # the token in the address is for pictures only
    assert served.overrides.read_bytes() == before
    assert post(served, form, Content_Type="application/json; charset=utf-8")[0] == 200
    assert post(served, b'{"skip": true}', shot=0, Host=f"localhost:{port}", Origin=f"http://localhost:{port}")[0] == 200
    assert read_overrides(served.overrides, served.board.analysis.shots) == {0: None, 1: None}


def test_board_and_pictures_need_the_token(serve):
    """The page is the one thing served without the token, and it is what carries it; each run has its own."""
    first, second = serve(), serve()
    assert first.token != second.token and len(first.token) >= 40
    for path in ("/api/board", *PICTURES, "/keyframe/99", "/nowhere"):
        for token in ("", "guess", second.token):
            for given in ({}, {TOKEN: token}):
                status, _, data = get(first, f"{path}?token={token}" if not given else path, **given)
                assert status == 403 and b"\xff\xd8" not in data and b"shots" not in data, (path, token, given)
        for site in ("same-site", "cross-site"):
            assert get(first, f"{path}?token={first.token}", Sec_Fetch_Site=site)[0] == 403
    for path in PICTURES:
        for given in ({"Sec_Fetch_Site": "same-origin"}, {"Sec_Fetch_Site": "none"}, {}):
            status, headers, data = get(first, f"{path}?token={first.token}", **given)
            assert status == 200 and data[:2] == b"\xff\xd8" and headers["Content-Type"] == "image/jpeg"
    assert get(first, "/api/board", **{TOKEN: first.token})[0] == 200
    assert get(first, f"/api/board?token={first.token}")[0] == 200
    status, _, page = get(first, "/")
    assert status == 200 and f'content="{first.token}"'.encode() in page and second.token.encode() not in page


def test_every_answer_forbids_framing_and_sniffing(served):
    """Errors included; HEAD answers as GET does, without the body."""
    port, host = served.port, ("Host", f"127.0.0.1:{served.port}")
    answers = [
        raw(port, "GET", "/", [host]), raw(port, "GET", f"/keyframe/0?token={served.token}", [host]),
        raw(port, "GET", "/keyframe/0", [host]), raw(port, "GET", f"/nowhere?token={served.token}", [host]),
        raw(port, "GET", "/", [("Host", "evil.example")]), raw(port, "PUT", "/", [host]), raw(port, "BREW", "/", [host]),
        raw(port, "POST", "/api/shot/0", [host, ("Origin", served.url)], b"skip=true"),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX: " + b"x" * 70000 + b"\r\n\r\n")
        bad = sock.makefile("rb").read()
    assert bad.startswith(b"HTTP/1.0 431") and b"\r\nX-Frame-Options: DENY\r\n" in bad and b"Traceback" not in bad
    assert [a[0] for a in answers] == [200, 200, 403, 404, 421, 405, 501, 415]
    for status, headers, data in answers:
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", status
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert status == 200 or len(json.loads(data)["error"].splitlines()) == 1
    assert "script-src 'sha256-" in answers[0][1]["Content-Security-Policy"] and "unsafe" not in answers[0][1]["Content-Security-Policy"]
    for path in ("/", f"/keyframe/0?token={served.token}", "/keyframe/0"):
        status, headers, data = raw(port, "HEAD", path, [host])
        full = raw(port, "GET", path, [host])
        assert (status, data) == (full[0], b"") and headers["Content-Length"] == full[1]["Content-Length"] and headers["X-Frame-Options"] == "DENY"


def test_bad_bodies_are_one_line_400s(served):
    before = served.overrides.read_bytes()
    nested = b'{"skip": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    bodies = [
        nested, b"[" * 4000, b'{"reference": "' + b"a" * 1_000_000 + b'"}', b'{"reference": "\xff"}', b'{"skip": true} x',
        b'{"reference": ["cat.png"]}', b'{"skip": 1}', b'{"reference": 1' + b"0" * 4000 + b"}", b"\x00",
    ]
    for body in bodies:
        status, data = post(served, body)
        assert status == 400 and len(json.loads(data)["error"].splitlines()) == 1 and "Traceback" not in data.decode(), body[:20]
    for length in ("abc", "-1", "0", "", "1e3", "²"):
        status, data = post(served, b"", Content_Length=length)
        assert status == 400 and "Content-Length" in json.loads(data)["error"], length
    assert served.overrides.read_bytes() == before


def _reset(sock: socket.socket) -> None:
    """Close like a client that vanished: a TCP reset, not a polite close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_silent_and_vanishing_clients_leave_no_trace(serve, capfd, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="videocolor")  # as on the command line: DEBUG is not shown
    served = serve(timeout=0.5)
    server_error = threading.Event()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:  # silent: dropped after 0.5 s
            start = time.monotonic()
            assert sock.recv(100) == b"" and time.monotonic() - start < 5
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:  # half a body, then silence
        sock.sendall(f"POST /api/shot/0 HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nContent-Length: 100\r\n\r\n{{".encode())
        assert sock.recv(100) == b""
    handled = served.server.handle_error
    monkeypatch.setattr(served.server, "handle_error", lambda request, address: (handled(request, address), server_error.set()))
    for request in (b"GET / HT", f"GET /preview/1/coffee.jpg?token={served.token} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n\r\n".encode(),
                    f"POST /api/shot/0 HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nContent-Length: 100\r\n\r\n{{".encode()):
        server_error.clear()
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.sendall(request)
        _reset(sock)
        assert server_error.wait(30), request  # the server met the hang-up
    assert served.call("/api/board")[0] == 200  # and goes on
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("port", ["-1", "99999", "65536", "abc", "1e3", "", "８０"])
def test_bad_port_is_one_line(film, port, capsys):
    path, refs = film
    with pytest.raises(SystemExit) as code:
        main(["review", str(path), "--ref-dir", str(refs), "--port", port, "--quiet"])
    err = capsys.readouterr().err
    assert code.value.code == 2 and "Traceback" not in err and err.strip().splitlines()[-1].endswith(f"0 (any free port) to 65535, got {port!r}")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.7", "example.com", "127.0.0.1.nip.io"])
def test_a_remote_host_needs_allow_remote(film, host, capsys, tmp_path):
    """Refused in one line before the film is analysed; ``allow_remote`` serves it with a warning."""
    path, refs = film
    assert main(["review", str(path), "--ref-dir", str(refs), "--overrides", str(tmp_path / "s.toml"), "--host", host, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-remote" in err and f"--host {host}:" in err and not (tmp_path / "s.toml").exists()


def test_library_checks_port_and_host(served, caplog):
    board = served.board
    for port in (-1, 65536, 99999, "8765", 1.5, True):
        with pytest.raises(InputError, match="65535"):
            make_server(board, port=port)
    with pytest.raises(InputError, match="allow-remote"):
        make_server(board, "0.0.0.0", 0)
    for host in ("nosuch.invalid", "é" * 70, "[::1]"):
        with pytest.raises(OutputError, match="cannot listen there"):
            make_server(board, host, 0, allow_remote=True)
    server = make_server(board, "0.0.0.0", 0, allow_remote=True)
    try:
        assert "anyone who can reach port" in caplog.text
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        for host, status in [(f"127.0.0.1:{port}", 200), (f"192.0.2.7:{port}", 200), (f"[::1]:{port}", 200),
                             (f"evil.example:{port}", 421), (f"192.0.2.7:{port + 1}", 421), ("192.0.2.7", 421)]:
            assert raw(port, "GET", "/", [("Host", host)])[0] == status, host  # an address is this machine; a name may be anyone's
    finally:
        server.shutdown()
        server.server_close()


def test_skip_pressed_three_times_on_a_fresh_file(serve, film, tmp_path):
    """The reviewers' case: skip, unskip, skip on a missing file; each answer 200, the file valid, and it renders."""
    from videocolor import colorize_video
    from videocolor.config import Settings

    served = serve(None)
    for skip in (True, False, True, False, True):
        status, data = served.call("/api/shot/0", {"skip": skip})
        assert status == 200 and json.loads(data)["skip"] is skip
        assert read_overrides(served.overrides, served.board.analysis.shots) == ({0: None} if skip else {})
    assert served.call("/api/shot/1", {"reference": "cat.png"})[0] == 200
    assert served.call("/api/board")[0] == 200
    report = colorize_video(film[0], tmp_path / "out.mp4", ref_dir=tmp_path / "refs", overrides=served.overrides,
                            settings=Settings(temporal="off", preset="ultrafast", quiet=True))
    shot = served.board.analysis.shots[0]
    assert (report.frames, report.gray_frames) == (28, shot.end_frame - shot.start_frame + 1)  # shot 0 skipped: left gray


def test_allow_remote_serves_with_a_warning(film, tmp_path):
    """The command line: --host 0.0.0.0 --allow-remote serves, says who can change the choices, and Ctrl-C stops it."""
    path, refs = film
    command = [sys.executable, "-m", "videocolor", "review", str(path), "--ref-dir", str(refs), "--overrides", str(tmp_path / "s.toml"),
               "--host", "0.0.0.0", "--allow-remote", "--port", "0", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 120)
        line = process.stdout.readline() if ready else ""
        port = int(re.search(r"http://0\.0\.0\.0:(\d+)/", line).group(1))
        assert raw(port, "GET", "/", [("Host", f"127.0.0.1:{port}")])[0] == 200
        assert raw(port, "GET", "/", [("Host", f"evil.example:{port}")])[0] == 421
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        process.kill()
        process.wait()
    err = process.stderr.read()
    assert "anyone who can reach port" in err and "Traceback" not in err


def test_pictures_of_any_name_load_with_the_token(serve, film, tmp_path):
    """A reference called ``cat?#% 2.png``: its preview's address is escaped, so the page's ``?token=`` still arrives."""
    shutil.copytree(film[1], tmp_path / "refs")
    shutil.copy(tmp_path / "refs" / "cat.png", tmp_path / "refs" / "cat?#% 2.png")
    served = serve()
    candidates = json.loads(served.call("/api/board")[1])["shots"][1]["candidates"]
    assert sorted(c["name"] for c in candidates) == ["cat.png", "cat?#% 2.png"]
    for candidate in candidates:
        status, _, data = get(served, f"{candidate['preview']}?token={served.token}")
        assert status == 200 and data[:2] == b"\xff\xd8", candidate


def test_a_flood_of_idle_connections_gets_no_thread_each_and_the_page_answers_after_it(served):
    """Past ``MAX_CONNECTIONS`` open sockets, the next is closed at once (no thread started for it); once the idle
    ones go, the page answers again."""
    from videocolor.colorist.review.server import MAX_CONNECTIONS

    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        extra = socket.create_connection(("127.0.0.1", served.port))
        extra.settimeout(10)
        assert extra.recv(1) == b""  # closed by the server, not left waiting (a timeout would raise here)
        extra.close()
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 30
    while True:  # the idle connections' threads see their sockets closed and give their slots back
        try:
            if raw(served.port, "GET", "/", [("Host", f"127.0.0.1:{served.port}")])[0] == 200:
                break
        except (ConnectionError, http.client.HTTPException):
            pass
        assert time.monotonic() < deadline, "the page never answered again after the idle connections closed"
        time.sleep(0.05)
