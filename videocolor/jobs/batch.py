"""Many films into one out dir, resumable: one failure never stops the rest.

A batch keeps ``videocolor-jobs.sqlite`` and ``videocolor-report.json`` in the out dir and its unfinished
segments under ``.videocolor-work/``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..analysis.cuts import check_cuts, cuts_in_folder
from ..checks import check_references, default_output
from ..config import Settings
from ..errors import InputError, OutputError
from ..io.atomic import write_atomic
from ..models.build import resolve_device
from ..render.film import MIN_SEGMENT_SECONDS
from .engines import Engine, make_engine
from .film import WORK_NAME, fingerprint, make_job, remove_if_empty
from .report import BatchReport, FilmReport, batch_report, output_in_place
from .runner import drive
from .state import FINISHED, STATE_NAME, State, Status

log = logging.getLogger("videocolor")

REPORT_NAME = "videocolor-report.json"
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".m4v", ".mxf", ".mpg", ".mpeg", ".ts", ".webm", ".wmv", ".flv", ".nut", ".dv"}


def expand_inputs(inputs: Sequence[str | Path] = (), list_file: str | Path | None = None) -> list[Path]:
    """Films from paths (a folder gives its video files, sorted) and from a list file (one path a line, ``#`` comments,
    folders too). A film named twice (also through a link or another spelling of its path) is colorized once."""
    items = list(map(Path, inputs))
    if list_file is not None:
        try:
            lines = Path(list_file).read_text(encoding="utf-8-sig").splitlines()  # a BOM is no part of the first path
        except OSError as exc:
            raise InputError(f"{list_file}: cannot read the list of films ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"{list_file}: not a text file of film paths (UTF-8)") from None
        base = Path(list_file).parent
        items = [base / line.strip() for line in lines if line.strip() and not line.strip().startswith("#")] + items
    paths: dict[Path, Path] = {}  # resolved -> as named, in order
    for item in items:
        found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) if item.is_dir() else [item]
        for path in found:
            if path.resolve() in paths:
                log.info("%s: named more than once; colorized once", path)
            paths.setdefault(path.resolve(), path)
    if not paths:
        raise InputError("no films given: name files, a folder, or --list FILE")
    return list(paths.values())


def run_batch(
    inputs: Sequence[str | Path] = (),
    *,
    out_dir: str | Path,
    list_file: str | Path | None = None,
    ref: str | Path | None = None,
    ref_dir: str | Path | None = None,
    overrides_dir: str | Path | None = None,
    cuts_dir: str | Path | None = None,
    settings: Settings | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    retry_failed: bool = False,
    overwrite: bool = False,
    segment_seconds: float = MIN_SEGMENT_SECONDS,
) -> BatchReport:
    """Colorize many films into ``out_dir`` as ``<stem>_color<ext>`` (``checks.default_output``, as a single run names
    them: ``.mkv`` where the film's own container would not read back); resumable, one failure never stops the rest.

    Films already done are skipped; failed ones are retried only with ``retry_failed``. ``overrides_dir`` holds
    ``<stem>.toml`` per film; ``cuts_dir`` a cut list per film (``<stem>.edl``, ``.otio``, ``.xml``, ``.fcpxml`` or ``.txt``:
    ``analysis.cuts``), used instead of detection; a film whose cut list does not fit it is refused. An output file
    this batch did not make is replaced only with ``overwrite``.
    Writes ``videocolor-report.json`` in ``out_dir`` and returns the same report.
    """
    settings = settings or Settings()
    out_dir = Path(out_dir).absolute()  # the state holds absolute paths: a batch resumes from any folder
    check_references(ref, ref_dir)
    ref, ref_dir, overrides_dir, cuts_dir = (Path(p).absolute() if p else None for p in (ref, ref_dir, overrides_dir, cuts_dir))
    films = [f.absolute() for f in expand_inputs(inputs, list_file)]
    state = _open_state(out_dir)
    ids, refused = _add_films(state, films, out_dir, ref, ref_dir, overrides_dir, cuts_dir, settings, overwrite, segment_seconds)
    if retry_failed:
        state.retry_failed()
    _render(state, ids, make_engine(engine, workers, ray_address))
    remove_if_empty(out_dir / WORK_NAME)
    report = batch_report(state, ids)
    report.films += refused
    write_atomic(out_dir / REPORT_NAME, json.dumps(report.to_json(), indent=2))
    return report


def _open_state(out_dir: Path) -> State:
    """The job state of ``out_dir`` (made, parents included), with films muxed but not recorded recorded now."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: is a file, not a folder; choose another --out-dir")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot make the output folder ({exc.strerror or exc})") from None
    state = State(out_dir / STATE_NAME)
    for row in state.films():
        if output_in_place(row):  # muxed by an earlier run that could not record it (a full disk): record it now
            state.muxed(row["id"], sum(s["frames_written"] or 0 for s in state.segments(row["id"])), row["mux_s"] or 0.0)
    return state


def _add_films(
    state: State,
    films: list[Path],
    out_dir: Path,
    ref: Path | None,
    ref_dir: Path | None,
    overrides_dir: Path | None,
    cuts_dir: Path | None,
    settings: Settings,
    overwrite: bool,
    segment_seconds: float,
) -> tuple[list[int], list[FilmReport]]:
    """Record each film's job in ``state``: the ids of this batch's films, and the films refused up front."""
    rows = state.films()
    done = {row["key"] for row in rows if row["status"] == Status.DONE}
    encode = settings.encoding(gpu=resolve_device(settings.device).type == "cuda")
    outputs = {film: default_output(film, encode, out_dir) for film in films}  # named as a single run names them
    made = {Path(row["output"]).absolute() for row in rows} | set(outputs.values())
    ids, seen, refused = [], {}, []
    for film in films:
        if film in made:  # this batch's own output (an out dir inside the input folder): never a new film
            log.info("%s: skipped, an output of this batch", film)
            continue
        output = outputs[film]
        if output.name in seen:
            raise InputError(f"{film}: same output name as {seen[output.name]}; rename one of them")
        seen[output.name] = film
        if output.exists() and output.name not in done and not overwrite:  # a file this batch did not make
            refused.append(FilmReport(str(film), str(output), Status.FAILED, f"{output}: already exists; pass --overwrite to replace it"))
            continue
        override = overrides_dir / f"{film.stem}.toml" if overrides_dir else None
        override = override if override and override.exists() else None
        cuts = cuts_in_folder(cuts_dir, film) if cuts_dir else None
        if cuts is not None and film.is_file():
            try:
                check_cuts(film, cuts)
            except InputError as exc:  # this film only: the others go on
                refused.append(FilmReport(str(film), str(output), Status.FAILED, str(exc)))
                continue
        job = make_job(film, output, out_dir / WORK_NAME / output.name, ref, ref_dir, override, settings, segment_seconds, cuts=cuts)
        stamp = fingerprint(film, settings, ref, ref_dir, override, cuts=cuts) if film.is_file() else {"input": str(film), "missing": True}
        ids.append(state.add_film(output.name, str(film), str(output), job, stamp))
    return ids, refused


def _render(state: State, ids: list[int], engine: Engine) -> None:
    """Render the films ``ids`` on ``engine`` (closed at the end); a missing input is refused, a film that finished
    or has nothing to resume leaves no work folder."""
    for row in state.films():
        if row["id"] in ids and row["status"] != Status.DONE and not Path(row["input"]).is_file():
            state.refuse(row["id"], f"{row['input']}: file not found")
    for row in state.films():
        if row["id"] in ids and row["status"] not in FINISHED:
            Path(json.loads(row["job"])["work_dir"]).mkdir(parents=True, exist_ok=True)
    try:
        drive(state, ids, engine)
    finally:
        engine.close()
    for row in state.films():
        if row["id"] in ids and (row["status"] == Status.DONE or not any(s["status"] == Status.DONE for s in state.segments(row["id"]))):
            shutil.rmtree(json.loads(row["job"])["work_dir"], ignore_errors=True)  # finished, or nothing to resume
