"""Override file edits as a property: any sequence of choices, skips and clears, from any layout a user may have
written, leaves a valid file that reads back as exactly the entries chosen (hypothesis; skipped without it)."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install -e .[dev])")

from hypothesis import HealthCheck, given, settings  # noqa: E402 (after the skip)
from hypothesis import strategies as st  # noqa: E402
from test_overrides import SHOTS  # noqa: E402 (4 shots of 2 s)

from videocolor.analysis.overrides import edit_override, read_overrides

REF_NAMES = ("a.jpg", "b.jpg", "~c.jpg", 'q"uote é.jpg', "back\\slash.jpg")
STARTS = {
    "missing": None,
    "empty array": "# kept\nshot = []\n",
    "hand-written": (
        "# kept: my notes\n\n[[shot]]\nindex = 0  # opening\nreference = \"refs/a.jpg\"\n\n"
        "[[shot]]\nstart = \"00:00:04.500\"  # kept: the shot at 4.5 s\nskip = true\n\n"
        "[[ shot ]]\nindex = 3\nreference = [\"refs/b.jpg\", \"refs/a.jpg\"]  # fused\n"
    ),
    "inline array": "# kept\nshot = [{index = 1, skip = true}, {start = 6.5, reference = 'refs/b.jpg'}]  # kept too\n",
}


@given(
    start=st.sampled_from(sorted(STARTS)),
    changes=st.lists(st.tuples(st.integers(0, 3), st.sampled_from((*REF_NAMES, "skip", "clear", "clear"))), max_size=14),
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_sequence_of_edits_leaves_a_valid_file(tmp_path, start, changes):
    """Choices, skips and clears in any order (skip three times included) keep the file valid TOML that reads back
    as exactly the entries chosen, with the comments of the entries not removed."""
    folder = tmp_path
    (folder / "refs").mkdir(exist_ok=True)
    for name in REF_NAMES:
        (folder / "refs" / name).write_bytes(b"x")
    path = folder / "edited.toml"
    path.unlink(missing_ok=True)
    if STARTS[start] is not None:
        path.write_text(STARTS[start])
    expected = read_overrides(path, SHOTS) if path.exists() else {}
    cleared: set[int] = set()
    for index, change in changes:
        if change == "clear":
            edit_override(path, SHOTS, index)
            expected.pop(index, None)
            cleared.add(index)
        elif change == "skip":
            edit_override(path, SHOTS, index, skip=True)
            expected[index] = None
        else:
            edit_override(path, SHOTS, index, reference=folder / "refs" / change)
            expected[index] = (folder / "refs" / change,)
        assert read_overrides(path, SHOTS) == expected
    text = path.read_text() if path.exists() else ""
    kept = [line for line in (STARTS[start] or "").splitlines() if "# kept" in line]
    assert all(line.split("# kept")[1] in text for line in kept if "4.5 s" not in line or 2 not in cleared)
    assert not list(folder.glob(".*"))  # no temporary file left

