"""The review page: a local web page to choose each shot's reference, saved to an override file.

>>> board = Board("film.mp4", "refs/", "shots.toml")            # doctest: +SKIP
>>> make_server(board, port=8765).serve_forever()               # doctest: +SKIP
"""

from .board import Board
from .server import check_address, make_server

__all__ = ["Board", "check_address", "make_server"]
