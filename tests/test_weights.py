"""Weights cache: install from a zip, verification failures, listing, CLI, and resumable HTTP download."""

from __future__ import annotations

import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from helpers import COLORNET_PATH, WARPNET_PATH, write_fake_devc_zip

from videocolor._cli.weights import main as weights_main
from videocolor.config import Settings
from videocolor.errors import WeightsError
from videocolor.home import home_dir
from videocolor.models import weights
from videocolor.models.build import build_colorizer


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    monkeypatch.setenv("VIDEOCOLOR_HOME", str(folder))
    return folder


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_fake_devc_zip(tmp_path_factory.mktemp("zip") / "colorization_checkpoint.zip")


def test_home_dir_follows_videocolor_home(home, monkeypatch):
    assert home_dir() == home and weights.model_dir("devc") == home / "devc"
    monkeypatch.delenv("VIDEOCOLOR_HOME")
    assert home_dir().name == "videocolor"


def test_missing_weights_error_gives_both_commands():
    assert not weights.is_installed("devc")
    with pytest.raises(WeightsError) as info:
        build_colorizer(Settings(model="devc"), torch.device("cpu"))
    message = str(info.value)
    assert "videocolor weights download devc" in message
    assert "videocolor weights install devc PATH.zip" in message
    assert "\n" not in message


@pytest.mark.parametrize("variant", ["without_gray", "top_folder"])
def test_install_accepts_zip_without_gray_or_with_a_top_folder(home, tmp_path, variant):
    path = tmp_path / "release.zip"
    if variant == "without_gray":
        write_fake_devc_zip(path, include_gray=False)
    else:
        write_fake_devc_zip(path, prefix="colorization_checkpoint/")
    found = weights.install("devc", path)
    assert weights.is_installed("devc") and found.path == home / "devc"
    assert sorted(found.files) == sorted(weights.get_record("devc").files)
    assert not (home / "devc" / "data" / "vgg19_gray.pth").exists()  # accepted, never extracted or loaded
    assert not found.sha256_verified and found.archive_sha256 == weights.file_sha256(path)
    assert [p.name for p in home.iterdir()] == ["devc"]  # no staging folder left behind


def _drop(file, key):
    def edit(name, state):
        if name == file:
            del state[key]

    return edit


def _reshape(file, key, shape):
    def edit(name, state):
        if name == file:
            state[key] = torch.zeros(shape)

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_drop(COLORNET_PATH, "conv8_1.1.weight"), "tensor 'conv8_1.1.weight' is missing"),
        (_reshape(WARPNET_PATH, "layer5_1.6.weight", (64, 256, 4, 4)), "tensor 'layer5_1.6.weight' has shape [64, 256, 4, 4], expected [64, 256, 3, 3]"),
        (_reshape(COLORNET_PATH, "conv9_1.weight", (128, 256, 3, 3)), "unexpected tensor 'conv9_1.weight'"),
    ],
)
def test_bad_tensor_is_named_and_previous_install_survives(archive, tmp_path, home, edit, expected):
    weights.install("devc", archive)
    bad = write_fake_devc_zip(tmp_path / "bad.zip", edit=edit)
    with pytest.raises(WeightsError, match="bad.zip") as info:
        weights.install("devc", bad)
    assert expected in str(info.value)
    assert weights.is_installed("devc")
    assert [p.name for p in home.iterdir()] == ["devc"]


def test_corrupt_zip_missing_member_and_sha256_mismatch_fail_clearly(archive, tmp_path):
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(WeightsError, match="truncated.zip: not a valid zip archive"):
        weights.install("devc", truncated)
    partial = tmp_path / "partial.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(partial, "w") as out:
        for item in source.infolist():
            if not item.filename.endswith("vgg19_conv.pth"):
                out.writestr(item, source.read(item))
    with pytest.raises(WeightsError, match="data/vgg19_conv.pth is missing from the archive"):
        weights.install("devc", partial)
    with pytest.raises(WeightsError, match="sha256 is .*, expected 0+"):
        weights.install("devc", archive, sha256="0" * 64)
    with pytest.raises(WeightsError, match="no such file"):
        weights.install("devc", tmp_path / "absent.zip")
    assert not weights.is_installed("devc")


def test_cli_install_list_and_one_line_errors(archive, tmp_path, home, capsys):
    assert weights_main(["list"]) == 0
    assert "devc: not installed" in capsys.readouterr().out
    assert weights_main(["install", "devc", str(archive), "--sha256", weights.file_sha256(archive)]) == 0
    assert weights_main(["list"]) == 0
    out = capsys.readouterr().out
    assert str(home / "devc") in out and "sha256 verified" in out and "MiB" in out
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert weights_main(["install", "devc", str(tmp_path / "junk.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("videocolor: error: ") and err.count("\n") == 1 and "Traceback" not in err


class _Server:
    """A local HTTP server for one file, with Range support; optionally drops the first connection midway."""

    def __init__(self, data: bytes, drop_first: bool = False) -> None:
        self.data, self.drop_first, self.ranges = data, drop_first, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path != "/colorization_checkpoint.zip":
                    self.send_error(404)
                    return
                header = self.headers.get("Range")
                server.ranges.append(header)
                start = int(header.split("=")[1].split("-")[0]) if header else 0
                body = server.data[start:]
                self.send_response(206 if header else 200)
                if header:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.drop_first and len(server.ranges) == 1:
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/colorization_checkpoint.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def test_download_resumes_after_dropped_connection_and_verifies_sha256(archive, home, capsys):
    data = archive.read_bytes()
    with _Server(data, drop_first=True) as server:
        code = weights_main(["download", "devc", "--url", server.url, "--sha256", weights.file_sha256(archive), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert server.ranges[0] is None and server.ranges[1] == f"bytes={len(data) // 2}-"
    found = weights.find_installed("devc")
    assert found is not None and found.sha256_verified and found.source == server.url
    assert not any((home / "downloads").iterdir())  # the archive is removed once installed
    assert build_colorizer(Settings(model="devc"), torch.device("cpu")).name == "devc"


def test_download_sha256_mismatch_and_http_error_fail_clearly(archive, home):
    with _Server(archive.read_bytes()) as server:
        with pytest.raises(WeightsError, match="sha256"):
            weights.download("devc", url=server.url, sha256="f" * 64, progress=False)
        assert not any((home / "downloads").iterdir())  # a damaged download is not resumed later
        with pytest.raises(WeightsError, match="HTTP 404"):
            weights.download("devc", url=server.url + ".missing", progress=False)
    assert not weights.is_installed("devc")


def test_offline_download_is_one_clear_line(capsys):
    with _Server(b"") as server:
        url = server.url  # the server is stopped on exit: nothing listens there any more
    assert weights_main(["download", "devc", "--url", url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"videocolor: error: cannot download {url}") and "install" in err
    assert err.count("\n") == 1 and "Traceback" not in err
