"""The review page: its server over HTTP (choices saved to the override file, bad requests 4xx), and in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
import synth
from helpers import mirrored_reference, save_image, two_shots

from videocolor.cli import main
from videocolor.overrides import read_overrides
from videocolor.review import Board, make_server

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
        return Served(f"http://127.0.0.1:{port}", overrides, server.RequestHandlerClass.board, server.token, port)

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


def test_board_choices_are_saved_keeping_comments(served, film):
    overrides, board = served.overrides, served.board
    status, data = served.call("/api/board")
    shots = json.loads(data)["shots"]
    assert status == 200 and [s["index"] for s in shots] == [0, 1]
    assert shots[0]["chosen"] == "astronaut.png" and shots[0]["source"] == "override"
    assert shots[1]["source"] == "retrieval" and len(shots[1]["candidates"]) == 2
    assert json.loads(data)["refs"] == ["astronaut.png", "cat.png", "coffee.jpg"]
    status, data = served.call("/api/shot/1", {"reference": "coffee.jpg"})
    assert status == 200 and json.loads(data)["chosen"] == "coffee.jpg"
    assert served.call("/api/shot/0", {"skip": True})[0] == 200
    text = overrides.read_text()
    assert "# my notes on this film" in text and "# the opening pan" in text and "# an alternative" in text
    saved = read_overrides(overrides, board.analysis.shots)
    assert saved == {0: None, 1: (overrides.parent / "refs" / "coffee.jpg",)}
    assert served.call("/api/shot/0", {"skip": False})[0] == 200  # back to the analysis' choice: entry gone
    assert read_overrides(overrides, board.analysis.shots) == {1: (overrides.parent / "refs" / "coffee.jpg",)}
    assert json.loads(served.call("/api/board")[1])["shots"][1]["chosen"] == "coffee.jpg"  # what a reload shows
    assert [p.name for p in overrides.parent.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_pictures_and_bad_requests(served):
    overrides = served.overrides
    for path in ("/keyframe/1", "/preview/0/cat.png", "/ref/coffee.jpg"):
        status, data = served.call(path)
        assert status == 200 and cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[0] == 180
    before = overrides.read_bytes()
    for path, code in [
        ("/ref/notes.txt", 404), ("/ref/..%2Fshots.toml", 404), ("/preview/0/..%2F..%2Fetc%2Fpasswd", 404),
        ("/keyframe/7", 404), ("/keyframe/-1", 404), ("/etc/passwd", 404), ("/api/board/x", 404),
    ]:
        status, data = served.call(path)
        assert status == code and "error" in json.loads(data), path
    for body, raw in [({"reference": "nowhere.png"}, None), ({"skip": "yes"}, None), (None, b"{not json"), ({"a": 1, "b": 2}, None)]:
        status, data = served.call("/api/shot/0", body, raw)
        assert 400 <= status < 500 and "Traceback" not in data.decode() and "error" in json.loads(data)
    assert served.call("/api/shot/9", {"skip": True})[0] == 404
    assert overrides.read_bytes() == before
    overrides.write_text("[[shot]]\nindex = 0\nreference = \n")  # broken by hand while the page is open
    status, data = served.call("/api/shot/1", {"skip": True})
    assert status == 409 and "shots.toml" in json.loads(data)["error"]
    assert overrides.read_text() == "[[shot]]\nindex = 0\nreference = \n"  # nothing lost


def test_unreadable_override_file_stops_the_page_with_one_line(film, tmp_path, capsys):
    path, refs = film
    broken = tmp_path / "shots.toml"
    broken.write_text("[[shot]\nindex = 0\n")
    assert main(["review", str(path), "--ref-dir", str(refs), "--overrides", str(broken), "--port", "0", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shots.toml" in err
    assert broken.read_text() == "[[shot]\nindex = 0\n"


def _browser():
    """Headless Chromium through Selenium and Debian's chromedriver, or a skip that says what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no Chromium: apt-get install chromium chromium-driver (Debian) to run the browser test")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,720"):
        options.add_argument(flag)
    return webdriver, options, driver


def test_review_in_a_real_browser(served, tmp_path):
    webdriver, options, driver_path = _browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, overrides, board = served.url, served.overrides, served.board
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        wait = WebDriverWait(browser, 60)
        browser.get(url)
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".shot")) == 2)
        second = browser.find_elements(By.CSS_SELECTOR, "#shot-1 .candidate")[1]
        name = second.get_attribute("data-name")
        second.click()
        wait.until(lambda b: b.find_element(By.ID, "status").text == "saved shot 1")
        browser.find_element(By.CSS_SELECTOR, "#shot-0 input.skip").click()
        wait.until(lambda b: b.find_element(By.ID, "status").text == "saved shot 0")
        browser.find_element(By.TAG_NAME, "body").send_keys("j")
        assert browser.find_element(By.CSS_SELECTOR, ".shot.current").get_attribute("data-index") == "1"
        browser.refresh()
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".shot")) == 2)
        wait.until(lambda b: all(img.get_attribute("naturalWidth") != "0" for img in b.find_elements(By.TAG_NAME, "img")))
        assert browser.find_element(By.CSS_SELECTOR, "#shot-0 input.skip").is_selected()
        assert browser.find_element(By.CSS_SELECTOR, "#shot-1 .candidate.chosen").get_attribute("data-name") == name
        shot = browser.find_element(By.CSS_SELECTOR, "#shot-1 .chosen").text
        assert name in shot
        screenshot = tmp_path / "review.png"
        browser.save_screenshot(str(screenshot))
    finally:
        browser.quit()
    assert read_overrides(overrides, board.analysis.shots) == {0: None, 1: (overrides.parent / "refs" / name,)}
    target = os.environ.get("VIDEOCOLOR_REVIEW_SCREENSHOT")  # the README's picture: see its development section
    if target:
        picture = cv2.imread(str(screenshot))
        cv2.imwrite(target, cv2.resize(picture, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert Path(target).stat().st_size < 150_000
