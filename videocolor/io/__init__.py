"""Input and output: streaming film decode/encode (PyAV), low-resolution analysis reads, reference images."""
