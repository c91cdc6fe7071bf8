"""Colorization models, one file per architecture (like torchvision.models), each registered by a card.

- ``exemplar``: training-free dense matching on the embedded EfficientNet-Lite0 backbone (no download).
- ``devc``: the paper's network (Zhang et al. 2019), official checkpoints via ``videocolor weights``.

``registry`` lists them (no torch import); ``build.build_colorizer`` turns settings into a colorizer.
"""
