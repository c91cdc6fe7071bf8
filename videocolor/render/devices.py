"""Device policy for the render pass: the device, thread counts, batch size, references per shot, and GPU
copies overlapped with compute.

On a GPU each pipeline thread works in its own CUDA stream: the decode thread uploads frames from page-locked
(pinned) host memory without blocking, the model thread computes, the encode thread downloads finished
frames, and events hand tensors from one stream to the next. On the CPU these helpers do nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from ..config import Settings
from ..models.build import resolve_device
from .memory import keep_freed_memory

# Bytes of GPU memory one full-resolution frame holds while it travels through the pipeline: RGB upload
# (3), lightness and its copies (3 x 4), chroma and guided-filter temporaries at full size (about 10 x 4).
_GPU_BYTES_PER_PIXEL = 60
_GPU_MEMORY_SHARE = 0.25  # of the free memory, for the frames in flight (several batches wait in queues)
# Measured on an H100 at 1080p: the model alone runs at over 1000 frames/s in batches of 8, far beyond the
# encoder; larger batches only hold more decoded frames in host memory (several batches are in flight).
_MAX_GPU_BATCH = 16
_CPU_BATCH = 8
_CORES_PER_TORCH_THREAD = 4  # the rest go to decoding, x264's threads, optical flow and composing
_MAX_TORCH_THREADS = 4  # work-resolution tensors are small: more threads only add overhead (measured)


_core_share: int | None = None  # set in a worker process that shares the machine with others (``share_cores``)


def machine_cores() -> int:
    """Cores this machine lets this process run on (its affinity mask, which containers and ``taskset`` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_cores() -> int:
    """Cores this process's render may count on: its share where ``share_cores`` set one, else ``machine_cores``."""
    return _core_share or machine_cores()


def share_cores(cores: int) -> None:
    """Make ``cores`` this process's share of the machine (a worker process beside others): torch's threads
    (``torch_threads``, applied by ``apply_process_policy``) and OpenCV's (optical flow, resizing) follow it, so N
    workers run about as many threads as one process would. The codecs' own threads are left to FFmpeg: an
    encoder's output can depend on its thread count, and a worker's segment must be the one a single process
    encodes."""
    global _core_share
    _core_share = max(1, cores)
    cv2.setNumThreads(_core_share)


def torch_threads(device: torch.device, cores: int | None = None) -> int:
    """Intra-op threads for the model: one per 4 cores, 1 to 4.

    The model's tensors at the work resolution are small, and the render's other threads (decode, x264,
    compose) need the cores too. Measured, a 640x360 render on 16 cores: 27, 39, 43, 35 and 31 fps with
    1, 2, 4, 8 and 14 threads. On 2 loaded cores a second thread mostly spins: a whole render took 4% less
    wall time but 8% more CPU time, a backbone pass alone 3x the CPU time. On a GPU one thread feeds it.
    """
    if device.type != "cpu":
        return 1
    cores = cpu_cores() if cores is None else cores
    return max(1, min(_MAX_TORCH_THREADS, cores // _CORES_PER_TORCH_THREAD))


def apply_process_policy(device: torch.device) -> torch.device:
    """The render's process-wide settings for ``device``; returns it.

    Torch's intra-op threads (``torch_threads``), set before the analysis too: on a loaded 2-core CPU,
    torch's default of a thread per core spun 16x the CPU time of one thread for the same preview (38.8 s
    against 2.4 s, measured), and an idle OpenMP pool left from the analysis spun 5% of a render's CPU.
    On the CPU, freed memory is kept for reuse (``keep_freed_memory``).
    """
    torch.set_num_threads(torch_threads(device))
    if device.type == "cpu":
        keep_freed_memory()
    return device


def auto_batch_size(device: torch.device, height: int, width: int) -> int:
    """Frames per forward pass: 8 on the CPU; on a GPU as many as a quarter of its free memory holds, 1 to 16."""
    if device.type != "cuda":
        return _CPU_BATCH
    free, _ = torch.cuda.mem_get_info(device)
    fit = int(free * _GPU_MEMORY_SHARE) // (_GPU_BYTES_PER_PIXEL * height * width)
    return max(1, min(_MAX_GPU_BATCH, fit))


def stream_for(device: torch.device) -> contextlib.AbstractContextManager:
    """A new CUDA stream made current for the calling thread (nothing on the CPU)."""
    return torch.cuda.stream(torch.cuda.Stream(device)) if device.type == "cuda" else contextlib.nullcontext()


def mark_ready(device: torch.device) -> torch.cuda.Event | None:
    """An event after the work queued so far on this thread's stream (``None`` on the CPU)."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record()
    return event


def wait_ready(event: torch.cuda.Event | None, tensors: Sequence[torch.Tensor | None]) -> None:
    """Make this thread's stream wait for ``event``; ``tensors`` (made on another stream) are kept alive for it."""
    if event is None:
        return
    stream = torch.cuda.current_stream()
    stream.wait_event(event)
    for tensor in tensors:
        if tensor is not None and tensor.is_cuda:
            tensor.record_stream(stream)


class PinnedStaging:
    """Page-locked host buffers for one thread's copies, used in turns so a copy overlaps the next batch.

    Args:
        device: the GPU the copies go to or come from.
        slots: buffers used in rotation; a buffer is reused once its last copy has finished.
    """

    def __init__(self, device: torch.device, slots: int = 2) -> None:
        self.device = device
        self._buffers: list[torch.Tensor | None] = [None] * slots
        self._events = [torch.cuda.Event() for _ in range(slots)]
        self._turn = 0

    def _next(self, shape: tuple[int, ...], dtype: torch.dtype) -> tuple[torch.Tensor, torch.cuda.Event]:
        self._turn = (self._turn + 1) % len(self._buffers)
        event = self._events[self._turn]
        event.synchronize()  # the last copy through this buffer is done
        numel = int(np.prod(shape))
        host = self._buffers[self._turn]
        if host is None or host.numel() < numel or host.dtype != dtype:
            host = self._buffers[self._turn] = torch.empty(numel, dtype=dtype, pin_memory=True)
        return host[:numel].view(shape), event

    def upload(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """Stack ``frames`` (equal shapes and dtypes) into a pinned buffer and copy it to the GPU without blocking."""
        host, event = self._next((len(frames), *frames[0].shape), torch.from_numpy(frames[0][:0]).dtype)
        np.stack(frames, out=host.numpy())
        out = host.to(self.device, non_blocking=True)
        event.record()
        return out

    def download(self, tensor: torch.Tensor) -> np.ndarray:
        """A GPU tensor copied through a pinned buffer: a numpy array, valid until this slot's next use."""
        host, event = self._next(tuple(tensor.shape), tensor.dtype)
        host.copy_(tensor, non_blocking=True)
        event.record()
        event.synchronize()
        return host.numpy()


# References per shot when the settings leave it open (``Settings.refs_per_shot`` 0), on every device. The CPU
# took 1 until carried frames (``Settings.carry``) left its model time room for 3: each is matched on its own
# (1.9x the model's CPU time per colorized frame), and the median of 3 is what lifts every other-shot case of
# ../shared/eval above gray + 0.5 dB (the street film's dark shot: 3.0 dB under gray with 1, 0.5 dB over with 3).
DEFAULT_REFS_PER_SHOT = 3


def refs_per_shot(setting: int) -> int:
    """References fused per shot: ``setting``, or ``DEFAULT_REFS_PER_SHOT`` when it is 0."""
    return setting or DEFAULT_REFS_PER_SHOT


def use_device(settings: Settings) -> torch.device:
    """The device of ``settings``, with the render's process-wide policy applied (``apply_process_policy``)."""
    return apply_process_policy(resolve_device(settings.device))
