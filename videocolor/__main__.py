"""``python -m videocolor``: the same as the ``videocolor`` command."""

import sys

from ._console import main

sys.exit(main())
