"""Input and output: streaming film decode/encode (PyAV), low-resolution analysis reads, reference images."""

from .library_logs import route_ffmpeg_logs

route_ffmpeg_logs()
