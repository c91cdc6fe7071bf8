"""Print pip constraints pinning every dependency pyproject.toml declares to its lower bound (``>=X`` -> ``==X``).

CI installs the package with these in a fresh virtual environment and runs the fast tests, so the declared
minimum versions are the ones tested, not a guess.
"""

import re
import sys
from pathlib import Path

import tomllib

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
for requirement in project["dependencies"]:
    match = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)(.*)$", requirement)
    if match is None:
        sys.exit(f"pyproject.toml: dependency {requirement!r} has no lower bound (>=)")
    name, version, marker = match.groups()
    print(f"{name}=={version}{marker}")
