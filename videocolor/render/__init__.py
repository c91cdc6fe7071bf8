"""The render pass: the threaded pipeline and its stages, device and memory policy, repeated frames, the temporal stage and keyframe propagation."""
