"""The analysis pass, run by ``film.analyse``: cuts and keyframes (``shots``), references per shot (``retrieval``),
the colorist's overrides and keyframes read back.
"""
