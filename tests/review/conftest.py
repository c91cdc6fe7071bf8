"""The review page's test fixtures: a board over a small generated film with three reference pictures, served on a free
port, and requests made as the page makes them."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import mirrored_reference, save_image, two_shots

from videocolor.colorist.review import Board, make_server
from videocolor.evaluation import synthetic as synth

TOKEN = "X-Videocolor-Token"
COMMENTED = """# my notes on this film
[[shot]]
index = 0  # the opening pan
reference = "refs/astronaut.png"
# reference = "refs/coffee.jpg"  # an alternative
"""


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    path = synth.write_clip(root / "film.mp4", two_shots(), audio_seconds=0)
    refs = root / "refs"
    refs.mkdir()
    save_image(refs / "astronaut.png", mirrored_reference(synth.load_photo("astronaut")))
    save_image(refs / "cat.png", mirrored_reference(synth.load_photo("chelsea")))
    save_image(refs / "coffee.jpg", synth.still(synth.load_photo("coffee"), (120, 160)))
    (refs / "notes.txt").write_text("not a picture")
    return path, refs


class Served(NamedTuple):
    url: str
    overrides: Path
    board: Board
    token: str
    port: int
    server: ThreadingHTTPServer

    def call(self, path: str, body: object | None = None, raw: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        """``path`` asked for as the page asks (the token header, the page's origin, JSON)."""
        return request(self.url + path, body, raw, {TOKEN: self.token, **(headers or {})})


@pytest.fixture
def serve(film, tmp_path):
    """Start servers over a board of the film (the override file holds ``text``, or is missing for ``None``)."""
    started = []

    def start(text: str | None = COMMENTED, **options) -> Served:
        path, refs = film
        overrides = tmp_path / "shots.toml"
        if not (tmp_path / "refs").exists():
            shutil.copytree(refs, tmp_path / "refs")
        if text is not None:
            overrides.write_text(text)
        server = make_server(Board(path, tmp_path / "refs", overrides, candidates=2), port=0, **options)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        port = server.server_address[1]
        return Served(f"http://127.0.0.1:{port}", overrides, server.RequestHandlerClass.board, server.token, port, server)

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def served(serve):
    """A running server over a board whose override file already holds a commented entry."""
    return serve()


def request(url: str, body: object | None = None, raw: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """GET ``url`` (POST with a body) with the page's origin and JSON for a POST, over ``headers`` (None: not sent)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Origin": "/".join(url.split("/")[:3]), "Content-Type": "application/json"} if data is not None else {}
    sent = {k: v for k, v in {**sent, **(headers or {})}.items() if v is not None}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=sent, method="POST" if data is not None else "GET")) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
