"""Per-shot override files (TOML): force a shot's reference, or leave it gray.

Each ``[[shot]]`` entry addresses shots by number (``index = 3``, as in ``videocolor shots``) or by time
(``start = "00:01:02.500"``, optional ``end``: every shot overlapping ``[start, end)``; without ``end``, the
shot playing at ``start``) and says ``reference = "path"`` (relative to the override file) or ``skip = true``;
``reference = ["a.png", "b.png"]`` colors the shot against each and fuses them per pixel (``ops/fusion.py``).
Errors name the file and the entry's line.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..config import parse_toml, read_toml
from ..errors import InputError
from ..io.atomic import write_atomic
from ..records import ReferenceChoice, Shot
from ..timecode import format_seconds, parse_timecode

_HEADER = re.compile(r"^\s*\[\[\s*(\"shot\"|'shot'|shot)\s*\]\]")
_ASSIGNED = re.compile(r"^\s*(\"shot\"|'shot'|shot)\s*=")
_KEYS = {"index", "start", "end", "reference", "skip"}


def read_overrides(path: str | Path, shots: Sequence[Shot]) -> dict[int, tuple[Path, ...] | None]:
    """Parse and check an override file against the film's shots: shot index -> its references (``None``: skip)."""
    path = Path(path)
    return _checked(path, *read_toml(path, "override file"), shots)


def _checked(path: Path, text: str, data: dict, shots: Sequence[Shot]) -> dict[int, tuple[Path, ...] | None]:
    """:func:`read_overrides` of a file's ``text`` and its parsed ``data``."""
    unknown = sorted(set(data) - {"shot"})
    if unknown or not isinstance(data.get("shot", []), list):
        raise InputError(f"{path}: expected only [[shot]] entries, found {', '.join(unknown) or 'shot = ...'}")
    lines = [n for n, line in enumerate(text.splitlines(), 1) if _HEADER.match(line)]
    assigned = [n for n, line in enumerate(text.splitlines(), 1) if _ASSIGNED.match(line)]  # shot = [...] instead of [[shot]]
    result: dict[int, tuple[Path, ...] | None] = {}
    owner: dict[int, int] = {}
    for n, entry in enumerate(data.get("shot", [])):
        line = lines[n] if n < len(lines) else (assigned[0] if assigned else "?")
        where = f"{path}:{line}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: each shot must be a [[shot]] table with index or start, got {entry!r}")
        reference = _reference(entry, path, where)
        for index in _addressed(entry, shots, where):
            if index in owner:
                raise InputError(f"{where}: overlaps the entry at line {owner[index]} (both address shot {index})")
            owner[index] = line
            result[index] = reference
    return result


def _reference(entry: dict, path: Path, where: str) -> tuple[Path, ...] | None:
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; use index or start/end, and reference or skip")
    if ("reference" in entry) == ("skip" in entry):
        raise InputError(f"{where}: give exactly one of reference = \"path\" or skip = true")
    if "skip" in entry:
        if entry["skip"] is not True:
            raise InputError(f"{where}: skip must be true (remove the entry to keep the chosen reference)")
        return None
    given = entry["reference"]
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InputError(f"{where}: reference must be a path string or a list of them")
    try:
        references = tuple(path.parent / Path(name).expanduser() for name in names)
    except RuntimeError:  # ~user of no known user
        raise InputError(f"{where}: reference {names}: no such home folder; write the path in full") from None
    for reference in references:
        if not reference.is_file():
            raise InputError(f"{where}: reference file {reference} not found")
    return references


def _addressed(entry: dict, shots: Sequence[Shot], where: str) -> list[int]:
    """The shots an entry addresses, by ``index`` or by ``start``/``end`` time."""
    if ("index" in entry) == ("start" in entry):
        raise InputError(f"{where}: address the shot by index = N or by start = \"HH:MM:SS.mmm\" (one of them)")
    if "index" in entry:
        index = entry["index"]
        if type(index) is not int or not 0 <= index < len(shots) or "end" in entry:
            raise InputError(f"{where}: unknown shot {index!r}; the film has shots 0 to {len(shots) - 1}")
        return [index]
    start = _time(entry["start"], where)
    end = _time(entry["end"], where) if "end" in entry else None
    if end is not None and end <= start:
        raise InputError(f"{where}: end {entry['end']} is not after start {entry['start']}")
    if end is None:
        hits = [s.index for s in shots if s.start.seconds <= start < s.end.seconds]
    else:
        hits = [s.index for s in shots if s.start.seconds < end and start < s.end.seconds]
    if not hits:
        span = f"{format_seconds(shots[-1].end.seconds)}" if shots else "00:00:00.000"
        raise InputError(f"{where}: unknown shot: no shot at {entry['start']} (the film ends at {span})")
    return hits


def _time(value: object, where: str) -> Fraction:
    """Seconds (a number) or ``HH:MM:SS.mmm`` (a string or TOML time) as exact seconds; anything else is an error."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{where}: bad time {value!r}: give seconds from 0, or \"HH:MM:SS.mmm\"")
        return Fraction(str(value))
    try:
        return parse_timecode(str(value))
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def apply_overrides(choices: Sequence[ReferenceChoice], overrides: dict[int, tuple[Path, ...] | None]) -> list[ReferenceChoice]:
    """The choices with overridden shots replaced (``source="override"``, candidates kept for reference)."""
    return [c if c.shot not in overrides else _overridden(c, overrides[c.shot]) for c in choices]


def _overridden(choice: ReferenceChoice, references: tuple[Path, ...] | None) -> ReferenceChoice:
    first, *fused = references or (None,)
    return ReferenceChoice(choice.shot, first, None, choice.candidates, "override", fused=tuple(fused))


def write_overrides(path: str | Path, shots: Sequence[Shot], choices: Sequence[ReferenceChoice]) -> Path:
    """Write an override template: one entry per shot with its chosen reference, alternatives as comments."""
    path = Path(path)
    out = [
        "# videocolor shot overrides: edit a reference, or replace it with skip = true to leave the shot gray.",
        "# Shots can also be addressed by time: start = \"HH:MM:SS.mmm\" (and end = ...) instead of index.",
        "",
    ]
    for shot, choice in zip(shots, choices):
        out += ["[[shot]]", f"index = {shot.index}  # {shot.start} - {shot.end}, {shot.num_frames} frames"]
        if choice.fused:
            out.append(f"reference = [{', '.join(_toml_path(p, path) for p in (choice.path, *choice.fused))}]")
        else:
            out.append(f"reference = {_toml_path(choice.path, path)}" if choice.path else "skip = true")
        out += [f"# reference = {_toml_path(p, path)}  # score {s:.3f}" for p, s in choice.candidates if p not in (choice.path, *choice.fused)]
        out.append("")
    return write_atomic(path, "\n".join(out))  # a template half-written by a full disk would not parse


def _toml_path(reference: Path, override_file: Path) -> str:
    """A TOML string of ``reference`` relative to the override file's folder (absolute across drives)."""
    return json.dumps(_relative(reference, override_file))


def _relative(reference: Path, override_file: Path) -> str:
    try:
        text = os.path.relpath(Path(reference).resolve(), override_file.resolve().parent)
    except ValueError:
        text = str(Path(reference).resolve())
    text = Path(text).as_posix()
    return f"./{text}" if text.startswith("~") else text  # not a home folder when read back


def edit_override(path: str | Path, shots: Sequence[Shot], index: int, *, reference: Path | None = None, skip: bool = False) -> Path:
    """Set shot ``index``'s entry of an override file, keeping every other entry and all comments.

    ``reference`` forces that picture, ``skip`` leaves the shot gray, neither removes the shot's entry (back to
    the analysis' choice; its own comment lines go with it). The file is created when missing and always
    replaced atomically; tomlkit edits it so comments and layout survive (the standard library only reads
    TOML), ``[[shot]]`` tables and a hand-written ``shot = [{...}]`` array alike. The new text is read back
    before it is written: it must hold exactly the old entries with this one change. ``InputError`` (file
    untouched) for an invalid file, or for an entry that addresses several shots by time (it cannot change
    for one of them).
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import AoT

    path = Path(path)
    text, data, before = "# videocolor shot overrides (see videocolor shots --write-overrides); edited by videocolor review.\n", {}, {}
    if path.exists():
        text, data = read_toml(path, "override file")
        before = _checked(path, text, data, shots)  # the whole file must be valid before it is changed
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    found = None
    for n, entry in enumerate(data.get("shot", [])):  # plain values, in the order of tomlkit's entries
        addressed = _addressed(entry, shots, f"{path}: entry {n + 1}")
        if index in addressed and len(addressed) > 1:
            raise InputError(f"{path}: entry {n + 1} addresses shots {addressed[0]}-{addressed[-1]} by time; edit it by hand")
        if index in addressed:
            found = n
    entries = document.get("shot")
    if reference is None and not skip:
        if found is not None:
            del entries[found]
        if isinstance(entries, AoT) and not entries:  # it would be written as ``shot = []``, an inline array
            del document["shot"]
    else:
        if found is None:
            found = _append_entry(document, index)
        entry = document["shot"][found]
        for key in ("reference", "skip"):
            if key in entry:
                del entry[key]
        if skip:
            entry["skip"] = True
        else:
            entry["reference"] = _relative(reference, path)
    new = tomlkit.dumps(document)
    expected = {k: v for k, v in before.items() if k != index}
    if skip or reference is not None:
        expected[index] = None if skip else (path.parent / _relative(reference, path),)
    try:
        after = _checked(path, new, parse_toml(new, path), shots)
    except InputError:
        after = None
    if after != expected:
        raise InputError(f"{path}: this layout cannot be edited safely; change shot {index} by hand")
    return write_atomic(path, new)


def _append_entry(document: Any, index: int) -> int:
    """Add ``index = N`` as a new last entry (a table, or an inline table in a ``shot = [...]`` array); its position."""
    import tomlkit
    from tomlkit.items import AoT

    entries = document.get("shot")
    if entries is None:
        entries = tomlkit.aot()
        document.append("shot", entries)
    entry = tomlkit.table() if isinstance(entries, AoT) else tomlkit.inline_table()
    entry["index"] = index
    entries.append(entry)
    return len(entries) - 1
