"""Pure tensor and array operations: colour conversion, upsampling, fusion, optical flow, lightness prints.

They import nothing of the package but ``errors`` and each other.
"""
