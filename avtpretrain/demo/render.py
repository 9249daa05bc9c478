"""Pixels and samples for a demo clip: pure numpy, deterministic for a (spec, seed) pair.

Video: the shape (half the frame across) crosses the whole frame in its direction when quick,
and a third of it when slow: large enough for the tiny model to see both direction and speed.
Audio: pitch follows the colour, beep rate the speed, timbre the shape, and a pitch glide (up/down)
or a loudness ramp (right/left) the direction, so audio alone can answer every question.
"""

from __future__ import annotations

import numpy as np

from avtpretrain.demo.scene import ClipSpec

RGB = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 80, 230),
    "yellow": (235, 215, 40),
}
PITCH_HZ = {"red": 330.0, "green": 494.0, "blue": 740.0, "yellow": 1109.0}
BEEPS_PER_S = {"slowly": 2.0, "quickly": 6.0}
TRAVEL = {"slowly": 0.3, "quickly": 1.0}
_STEP = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def _shape_mask(shape: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, r: float):
    dx, dy = xx - cx, yy - cy
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    # Upward-pointing triangle: inside the band between apex and base, narrowing towards the apex.
    rel = (dy + r) / (2 * r)
    return (rel >= 0) & (rel <= 1) & (np.abs(dx) <= rel * r)


def render_frames(spec: ClipSpec, num_frames: int, size: int, seed: int) -> np.ndarray:
    """uint8 frames [T, size, size, 3] of the shape moving across a faintly noisy background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    sx, sy = _STEP[spec.direction]
    travel = TRAVEL[spec.speed]
    start = 0.5 - sx * travel / 2 if sx else spec.offset
    start_y = 0.5 - sy * travel / 2 if sy else spec.offset
    radius = size * 0.25
    background = rng.integers(20, 45, size=(size, size, 1), dtype=np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0).repeat(3, axis=3)
    color = np.array(RGB[spec.color], dtype=np.uint8)
    for t in range(num_frames):
        progress = t / max(num_frames - 1, 1)
        cx = (start + sx * travel * progress) * size
        cy = (start_y + sy * travel * progress) * size
        frames[t][_shape_mask(spec.shape, xx, yy, cx, cy, radius)] = color
    return frames


def _wave(shape: str, phase: np.ndarray) -> np.ndarray:
    if shape == "circle":
        return np.sin(phase)
    if shape == "square":
        # Softened square wave: odd harmonics without the aliasing of a hard edge.
        return np.tanh(3.0 * np.sin(phase))
    return (2.0 / np.pi) * np.arcsin(np.sin(phase))


def render_audio(spec: ClipSpec, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """float32 mono waveform in [-1, 1] of length round(seconds * sample_rate)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    glide = {"up": 1.5, "down": 1 / 1.5}.get(spec.direction, 1.0)
    freq = PITCH_HZ[spec.color] * glide ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    beep_on = (t * BEEPS_PER_S[spec.speed]) % 1.0 < 0.5
    ramp = {"right": t / seconds, "left": 1 - t / seconds}.get(spec.direction)
    loudness = 0.6 if ramp is None else 0.15 + 0.6 * ramp
    signal = _wave(spec.shape, phase) * beep_on * loudness
    noise = rng.normal(0.0, 0.01, size=n)
    return np.clip(signal + noise, -1.0, 1.0).astype(np.float32)
