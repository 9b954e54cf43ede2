"""Where each panel goes, computed from the window size alone, so any size a user drags the
window to is laid out the same way (checked readable at 1280x720 and 800x600)."""

from __future__ import annotations

from dataclasses import dataclass

from pygame import Rect

GAP = 8


@dataclass(frozen=True)
class Layout:
    size: tuple[int, int]
    font: int  # body text height in pixels
    header: Rect  # now playing
    controls: Rect
    roll: Rect
    wave: Rect
    spectrum: Rect
    seams: Rect
    meter: Rect  # buffer ahead
    status: Rect

    @property
    def row(self) -> int:
        """Height of one control row."""
        return self.font + 12


def _clamp(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, value)))


def layout(size: tuple[int, int]) -> Layout:
    """Controls in a column on the left; the piano roll over the waveform and spectrum,
    then seams and the buffer meter, on the right; now playing on top, status at the foot."""
    width, height = max(320, size[0]), max(240, size[1])
    font = _clamp(height / 33, 14, 24)
    header = Rect(0, 0, width, 2 * font + 18)
    status = Rect(0, height - (font + 10), width, font + 10)
    side = _clamp(width * 0.27, 240, 340)
    top, bottom = header.bottom + GAP, status.top - GAP
    controls = Rect(GAP, top, side - GAP, bottom - top)
    left, right = controls.right + GAP, width - GAP
    span = bottom - top
    roll_h = int(span * 0.48)
    scope_h = int(span * 0.30)
    roll = Rect(left, top, right - left, roll_h)
    scope_top = roll.bottom + GAP
    wave_w = int((right - left - GAP) * 0.62)
    wave = Rect(left, scope_top, wave_w, scope_h)
    spectrum = Rect(wave.right + GAP, scope_top, right - wave.right - GAP, scope_h)
    info_top = wave.bottom + GAP
    info_h = bottom - info_top
    seams_w = int((right - left - GAP) * 0.55)
    seams = Rect(left, info_top, seams_w, info_h)
    meter = Rect(seams.right + GAP, info_top, right - seams.right - GAP, info_h)
    return Layout((width, height), font, header, controls, roll, wave, spectrum, seams, meter,
                  status)
