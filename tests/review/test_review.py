"""The review page: its server over HTTP (choices saved to the override file, bad requests 4xx), and in a real browser."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from videocolor._cli.main import main
from videocolor.analysis.overrides import read_overrides


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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium through Selenium and Debian's chromedriver (``rebind.test`` resolves to 127.0.0.1, as a name of
    an attacker's would after DNS rebinding), or a skip that says what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no Chromium: apt-get install chromium chromium-driver (Debian) to run the browser test")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,720",
                 "--host-resolver-rules=MAP rebind.test 127.0.0.1", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    yield driver
    driver.quit()


def test_review_in_a_real_browser(served, browser, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, overrides, board = served.url, served.overrides, served.board
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))  # a saved shot's card is replaced
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
    assert name in browser.find_element(By.CSS_SELECTOR, "#shot-1 .chosen").text
    screenshot = tmp_path / "review.png"
    browser.save_screenshot(str(screenshot))
    assert read_overrides(overrides, board.analysis.shots) == {0: None, 1: (overrides.parent / "refs" / name,)}
    for skipped in (False, True, False):  # s three times on shot 0 (the reviewers' case): the file stays valid
        browser.find_element(By.TAG_NAME, "body").send_keys("s")
        wait.until(lambda b, skipped=skipped: b.find_element(By.CSS_SELECTOR, "#shot-0 input.skip").is_selected() == skipped)
        assert read_overrides(overrides, board.analysis.shots) == {1: (overrides.parent / "refs" / name,), **({0: None} if skipped else {})}
    assert browser.find_element(By.ID, "status").get_attribute("class") == ""  # no error shown
    target = os.environ.get("VIDEOCOLOR_REVIEW_SCREENSHOT")  # the README's picture: see its development section
    if target:
        picture = cv2.imread(str(screenshot))
        cv2.imwrite(target, cv2.resize(picture, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert Path(target).stat().st_size < 150_000


ATTACKER = """<!doctype html>
<html><head><script>window.results = {}; function mark(id, what) { window.results[id] = what; }</script></head><body>
<iframe name="plain"></iframe><iframe name="urlencoded"></iframe>
<form id="plain" method="POST" enctype="text/plain" target="plain" action="VICTIM/api/shot/0">
<input name='{"skip": "' value='", "skip": true}'></form>
<form id="urlencoded" method="POST" target="urlencoded" action="VICTIM/api/shot/1"><input name="skip" value="true"></form>
<img src="VICTIM/keyframe/0" onload="mark('keyframe', this.naturalWidth)" onerror="mark('keyframe', 'error')">
<img src="VICTIM/keyframe/1?token=guess" onload="mark('guessed', this.naturalWidth)" onerror="mark('guessed', 'error')">
<img src="VICTIM/preview/0/cat.png" onload="mark('preview', this.naturalWidth)" onerror="mark('preview', 'error')">
<img src="VICTIM/ref/coffee.jpg" onload="mark('ref', this.naturalWidth)" onerror="mark('ref', 'error')">
<script>
fetch("VICTIM/api/shot/1", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: '{"skip": true}'})
  .then(() => mark("no-cors", "sent"), () => mark("no-cors", "failed"));
fetch("VICTIM/api/shot/1", {method: "POST", headers: {"Content-Type": "application/json", "X-Videocolor-Token": "guess"},
  body: '{"skip": true}'}).then(r => mark("cors", r.status), () => mark("cors", "failed"));  // its preflight is refused
fetch("VICTIM/api/board").then(r => r.text()).then(t => mark("board", t), () => mark("board", "blocked"));
fetch("VICTIM/").then(r => r.text()).then(t => mark("page", t), () => mark("page", "blocked"));
document.getElementById("plain").submit();
document.getElementById("urlencoded").submit();
</script></body></html>
"""


def test_another_origin_can_neither_change_nor_read(served, browser, tmp_path, monkeypatch):
    """A page of another origin (another port of 127.0.0.1: the same site, so cookies would not tell them apart) tries a
    no-cors fetch POST, text/plain and urlencoded form POSTs, reads, and <img> of the film's pictures; then the page
    is asked for under a name of the attacker's resolving here (DNS rebinding)."""
    from selenium.webdriver.support.ui import WebDriverWait

    posts = []
    handler = served.server.RequestHandlerClass
    do_post = handler.do_POST
    monkeypatch.setattr(handler, "do_POST", lambda self: (posts.append(self.path), do_post(self)))  # the attacks arrived
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(ATTACKER.replace("VICTIM", served.url))
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(site)))
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    before = served.overrides.read_bytes()
    try:
        browser.get(f"http://127.0.0.1:{attacker.server_address[1]}/index.html")
        wait = WebDriverWait(browser, 60)
        results = wait.until(lambda b: (r := b.execute_script("return window.results")) and len(r) == 8 and len(posts) >= 3 and r)
    finally:
        attacker.shutdown()
        attacker.server_close()
    assert sorted(posts) == ["/api/shot/0", "/api/shot/1", "/api/shot/1"]
    assert {k: results[k] for k in ("keyframe", "guessed", "preview", "ref")} == dict.fromkeys(("keyframe", "guessed", "preview", "ref"), "error")
    assert results["board"] == results["page"] == "blocked" and results["cors"] == "failed"
    assert served.overrides.read_bytes() == before
    browser.get(f"http://rebind.test:{served.port}/")  # DNS rebinding: the attacker's name, now this machine
    assert served.token not in browser.page_source and "answers only for" in browser.page_source
    status = browser.execute_async_script(
        "const done = arguments[0]; fetch('/api/shot/0', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
        "body: '{\"skip\": true}'}).then(r => done(r.status), e => done(String(e)));")
    assert status == 421 and served.overrides.read_bytes() == before
