"""MkDocs hook: the reference pages are generated from the code at build time, so they cannot drift from it.

A page line ``<!-- generated: cli -->`` becomes every command's ``--help`` (the argparse parsers of
``videocolor/_cli/``); ``<!-- generated: settings -->`` becomes a table per settings
section (``config.Settings`` and each registered model's section) with each knob's default, the values it
accepts (``settings_fields.accepted``) and its description from the section's docstring.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from typing import Any

_MARKER = re.compile(r"^<!-- generated: (\w+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return _MARKER.sub(lambda m: _GENERATORS[m.group(1)](), markdown)


def _cli() -> str:
    os.environ["COLUMNS"] = "110"  # argparse wraps help at the terminal's width: a fixed one for the page
    from videocolor._cli import main as cli

    parts = [("videocolor", cli.build_parser())]
    parts += [(f"videocolor {name}", importlib.import_module(f"videocolor._cli.{name}").build_parser()) for name in cli.SUBCOMMANDS]
    return "\n".join(f"## `{name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n" for name, parser in parts)


def _settings() -> str:
    import tomlkit

    from videocolor.config import Settings
    from videocolor.models import registry
    from videocolor.settings_fields import accepted, knobs

    sections = [("[videocolor]", Settings)] + [(f"[videocolor.{spec.name}]", spec.settings) for spec in registry.REGISTERED]
    out = []
    for title, section in sections:
        docs = _attributes(inspect.getdoc(section) or "")
        out += [f"## `{title}`\n", "| key | default | accepts | what it does |", "|---|---|---|---|"]
        for f in knobs(section):
            default = tomlkit.item(f.default).as_string()
            out.append(f"| `{f.name}` | `{default}` | {accepted(f)} | {docs.get(f.name, '')} |")
        out.append("")
    return "\n".join(out)


def _attributes(docstring: str) -> dict[str, str]:
    """The ``Attributes:`` section of a Google-style docstring: name -> its text on one line."""
    found: dict[str, str] = {}
    section = docstring.split("Attributes:", 1)[1] if "Attributes:" in docstring else ""
    name = None
    for line in section.splitlines():
        match = re.match(r"^ {4}(\w+): (.*)$", line)
        if match:
            name, found[match.group(1)] = match.group(1), match.group(2)
        elif name and line.startswith(" " * 8):
            found[name] += " " + line.strip()
        elif line.strip():
            break
    # reStructuredText's ``code`` is Markdown's `code`; a table cell cannot hold a bare |
    return {key: text.replace("``", "`").replace("|", "\\|") for key, text in found.items()}


_GENERATORS = {"cli": _cli, "settings": _settings}
