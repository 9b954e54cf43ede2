"""How abrupt a loop's seam is, measured on the loop alone.

A loop period played end -> start is a circular signal; every join inside it is the music
itself, the one join at the wrap is ours. So each measure (click, level dip, spectral flux) is
taken on the circular signal at positions on a regular grid through the wrap: its value at the
wrap is divided by its 99th percentile over the positions whose windows do not reach the wrap.
A score <= 1 means the seam is no more abrupt than the music's own abrupt moments.

A wrap placed exactly on a strong attack measures that attack: a phrase's first attack is
often among its strongest 1 %, so even a perfect loop (a phrase with its tail folded onto its
start) can score above 1 on flux when it wraps on its downbeat, and well below 1 when the same
audio wraps 5-10 ms earlier. find_loop lets a join move a few milliseconds off the grid for
this reason, and says by how much; a period that can wrap anywhere (the player's) is measured
once as a SeamProfile and wrapped where it joins best (composer.loop.wrap).

The measure functions take audio shaped (..., channels, frames) and index it circularly, so
the same code measures a whole period, a whole clip (the detector's reference levels) and a
batch of short excerpts around candidate joins.
"""

from __future__ import annotations

import functools

import numpy as np

from composer.audio import SeamScores
from composer.fir import convolve_valid, fft

HIGH_PASS_HZ = 8000.0  # a step is broadband (1/f); rendered music has little energy up here
HIGH_PASS_SECONDS = 0.0015  # the filter's impulse response, each side, kept (the rest < 1e-5)
CLICK_SECONDS = 0.001  # a step's high-passed energy lies within a fraction of a millisecond
RMS_SECONDS = 0.020  # the level for the dip measure; neighbours are one window away
FLUX_SECONDS = 0.023  # one spectral frame (1024 samples at 44.1 kHz), hop a quarter of it
PERCENTILE = 99.0
MIN_SECONDS = 0.25  # shorter periods have too few positions for a percentile
DIP_FLOOR_DB = -60.0  # levels this far below the overall RMS count as silence
FLOOR_DB = -80.0  # spectra are compared in dB above this floor (below the loudest band)
FLUX_FLOOR = 0.1  # mean dB rise too small to hear
DIP_FLOOR = 0.1  # dB
BANDS = 40  # log-spaced bands for the spectral flux
CHUNK_FRAMES = 256  # spectral frames transformed at a time (about 1 MB each way)
FIR_BLOCK = 1024  # frames per FFT block of the high-pass filter (cache-sized)


# --- the three measures ---------------------------------------------------------------

def click_width(sample_rate: int) -> int:
    return max(4, round(CLICK_SECONDS * sample_rate))


def rms_width(sample_rate: int) -> int:
    return max(4, round(RMS_SECONDS * sample_rate))


def flux_size(sample_rate: int) -> int:
    return 1 << round(np.log2(FLUX_SECONDS * sample_rate))


def reach(sample_rate: int) -> dict[str, int]:
    """How far from a position each measure's windows extend (frames)."""
    n = flux_size(sample_rate)
    return {"click": click_width(sample_rate), "dip": rms_width(sample_rate) * 3 // 2,
            "flux": n // 2 + n // 8}


def high_pass(x: np.ndarray, sample_rate: int, cutoff: float = HIGH_PASS_HZ) -> np.ndarray:
    """Zero-phase 4th-order Butterworth magnitude along the last (frames) axis, circular.

    The filter's impulse response is over within a millisecond or two, so it is applied as a
    short FIR (FFT convolution in cache-sized blocks) over the signal wrapped by that much on
    both sides: the same output as filtering the whole circle in one FFT to float32
    precision, in a quarter of the time."""
    kernel = _high_pass_kernel(sample_rate, min(cutoff, 0.35 * sample_rate))
    half = len(kernel) // 2
    n = x.shape[-1]
    if n <= 2 * half:  # shorter than the response: tile the circle until it is not
        x = np.concatenate([x] * (2 * half // n + 1), axis=-1)
    m = x.shape[-1]
    wrapped = np.concatenate([x[..., m - half:], x, x[..., :half]], axis=-1, dtype=np.float32)
    return convolve_valid(wrapped, kernel, FIR_BLOCK)[..., :n]


@functools.lru_cache(maxsize=8)
def _high_pass_kernel(sample_rate: int, cutoff: float) -> np.ndarray:
    """The zero-phase filter's impulse response, centred, HIGH_PASS_SECONDS each side."""
    half = max(16, round(HIGH_PASS_SECONDS * sample_rate))
    size = 1 << max(14, (8 * half).bit_length())
    f = np.fft.rfftfreq(size, 1.0 / sample_rate)
    gain = 1.0 / np.sqrt(1.0 + (cutoff / np.maximum(f, 1e-9)) ** 8)
    response = np.fft.irfft(gain, size)
    return np.roll(response, half)[:2 * half + 1].astype(np.float32)


def _cumulative(x: np.ndarray) -> np.ndarray:
    """Running sum with a leading zero, so a window's sum is two lookups (in float64: a
    float32 sum of a minute of audio cannot tell one millisecond's energy from rounding)."""
    return np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1, dtype=np.float64)],
                          axis=-1)


def _window_sums(c: np.ndarray, positions: np.ndarray, width: int) -> np.ndarray:
    """Circular sums over `width` frames centred on each position, from _cumulative(x)."""
    n = c.shape[-1] - 1
    lo = positions - width // 2
    hi = lo + width
    laps = np.floor_divide(hi, n) - np.floor_divide(lo, n)  # whole turns of the circle
    return c[..., hi % n] - c[..., lo % n] + laps * c[..., n:n + 1]


def click_values(x: np.ndarray, sample_rate: int, positions: np.ndarray) -> np.ndarray:
    """High-passed energy (all channels) over CLICK_SECONDS centred on each position;
    x is (..., channels, frames)."""
    return _window_sums(_click_sums(x, sample_rate), positions, click_width(sample_rate))


def _click_sums(x: np.ndarray, sample_rate: int) -> np.ndarray:
    hp = high_pass(x, sample_rate)
    return _cumulative(np.einsum("...cf,...cf->...f", hp, hp))


def dip_values(x: np.ndarray, sample_rate: int, positions: np.ndarray) -> np.ndarray:
    """How far (dB) the RMS over RMS_SECONDS falls below both its neighbours one window
    away. In dB, because a dip is as audible in a quiet passage as in a loud one; levels are
    floored DIP_FLOOR_DB below the signal's overall RMS, so silence has no dips."""
    return _dips(_power_sums(x), positions, rms_width(sample_rate))


def _power_sums(x: np.ndarray) -> np.ndarray:
    return _cumulative(np.einsum("...cf,...cf->...f", x, x) / x.shape[-2])


def _dips(c: np.ndarray, positions: np.ndarray, width: int) -> np.ndarray:
    """dip_values from _power_sums(x)."""
    power = np.stack([_window_sums(c, positions + k * width, width) for k in (-1, 0, 1)]) / width
    overall = c[..., -1:] / (c.shape[-1] - 1)
    db = 10.0 * np.log10(np.maximum(power, overall * 10 ** (DIP_FLOOR_DB / 10) + 1e-30))
    return np.maximum(np.minimum(db[0], db[2]) - db[1], 0.0)


def band_edges(n_fft: int, sample_rate: int, bands: int = BANDS) -> np.ndarray:
    """FFT bin indices splitting 60 Hz .. Nyquist into log-spaced bands (at least one bin)."""
    hz = np.geomspace(60.0, sample_rate / 2, bands + 1)
    edges = np.unique(np.round(hz * n_fft / sample_rate).astype(int))
    return edges[edges < n_fft // 2 + 1]


def band_power(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """Hann-windowed frames (..., n_fft) -> mean power in log-spaced bands, in the frames'
    precision (float32 halves the cost, and a dB difference needs no more).

    Frames go through in chunks of CHUNK_FRAMES: a 16 s period has 11,000 overlapping frames,
    90 MB as one windowed array and its spectrum, which would push the synthesizer rendering
    on the other core out of the shared cache; a chunk's few MB stay in it."""
    n_fft = frames.shape[-1]
    edges = band_edges(n_fft, sample_rate)
    width = np.diff(np.append(edges, n_fft // 2 + 1)).astype(frames.dtype)
    window = np.hanning(n_fft).astype(frames.dtype)
    rows = frames.reshape(-1, n_fft)
    out = np.empty((len(rows), len(edges)), dtype=np.result_type(frames.dtype, np.float32))
    for lo in range(0, len(rows), CHUNK_FRAMES):
        windowed = rows[lo:lo + CHUNK_FRAMES] * window
        spectrum = fft().rfft(windowed, axis=-1)  # keeps float32
        spectrum = spectrum.real ** 2 + spectrum.imag ** 2
        out[lo:lo + CHUNK_FRAMES] = np.add.reduceat(spectrum[:, edges[0]:], edges - edges[0],
                                                    axis=-1) / width
    return out.reshape(*frames.shape[:-1], len(edges))


def to_db(power: np.ndarray, top: float | None = None) -> np.ndarray:
    """Power in dB, floored FLOOR_DB below `top` (default: the loudest band given), so quiet
    noise does not count as spectral change."""
    top = float(power.max()) if top is None else top
    return 10.0 * np.log10(np.maximum(power, top * 10 ** (FLOOR_DB / 10) + 1e-30))


def band_db(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    return to_db(band_power(frames, sample_rate))


def flux_power(x: np.ndarray, sample_rate: int, positions: np.ndarray) -> np.ndarray:
    """Band power of the two frames, a hop apart, that straddle each position, from the
    channels' mean: (..., positions, 2, bands)."""
    n = flux_size(sample_rate)
    hop = n // 4
    mono = np.mean(x, axis=-2)
    centres = positions[:, None] + np.array([-hop // 2, hop - hop // 2])[None, :]
    index = (centres[..., None] - n // 2 + np.arange(n)) % mono.shape[-1]
    return band_power(mono[..., index], sample_rate)


def flux_values(power: np.ndarray, top: float) -> np.ndarray:
    """Mean rectified rise in dB from the first frame of each pair to the second."""
    level = to_db(power, top)
    return np.mean(np.maximum(level[..., 1, :] - level[..., 0, :], 0.0), axis=-1)


def flux_grid(x: np.ndarray, sample_rate: int, origin: int = 0,
              step: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Flux of the pair straddling every `step`-th frame from `origin`, around the circle.

    The default step is a sixteenth of a frame, a quarter of the pair's hop: the music's own
    attacks are then measured at every phase, as the seam is measured exactly at its own
    position. Pairs share frames, so one frame grid serves them all: returns (boundaries,
    flux, loudest band power)."""
    n_fft = flux_size(sample_rate)
    hop = n_fft // 4
    step = step or n_fft // 16
    per_hop = max(1, hop // step)
    mono = np.mean(x, axis=-2, dtype=np.float32)
    n = mono.shape[-1]
    count = max(1, n // step)
    # Frame j starts at first + j * step; read them as strided views of the circle unrolled.
    first = (origin - hop // 2 - n_fft // 2) % n
    span = first + (count + per_hop - 1) * step + n_fft
    unrolled = np.concatenate([mono] * (-(-span // n)), axis=-1)[..., :span]
    frames = np.lib.stride_tricks.sliding_window_view(unrolled, n_fft, axis=-1)
    power = band_power(frames[..., first::step, :][..., :count + per_hop, :], sample_rate)
    top = float(power.max())
    level = to_db(power, top)
    flux = np.mean(np.maximum(level[per_hop:] - level[:-per_hop], 0.0), axis=-1)
    return (origin + np.arange(count) * step) % n, flux, top


# --- the scores ---------------------------------------------------------------------------

def floors(x: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Levels below which a measure is inaudible: no division by a perfectly steady nothing.
    x is (channels, frames)."""
    power = float(np.mean(x ** 2))
    return {"click": 1e-9 * click_width(sample_rate) * power * x.shape[0],
            "dip": DIP_FLOOR, "flux": FLUX_FLOOR}


def ratio(seam: np.ndarray | float, inside: np.ndarray, floor: float) -> np.ndarray | float:
    """seam / 99th percentile inside (at least `floor`)."""
    reference = max(float(np.percentile(inside, PERCENTILE)), floor) if len(inside) else floor
    return np.where(np.asarray(seam) > 1e-3 * floor, np.asarray(seam) / reference, 0.0)


class SeamProfile:
    """Every measure all round a circular period, so its seam can be scored anywhere.

    A period that is sample-continuous all round (a phrase with its tail folded on) may wrap
    at any frame; a player picks the frame that joins best. Built once (the cost of one
    `seam_scores`), it scores any position cheaply: `at(p)` is exactly what
    `seam_scores(np.roll(period, -p))` measures when p is 0, and the same measures on this
    profile's grids (a few samples out of phase) elsewhere; `estimate` ranks many positions
    at once against references taken over the whole circle.
    """

    def __init__(self, period: np.ndarray, sample_rate: int) -> None:
        x = as_channels(period)
        frames = x.shape[-1]
        if frames < MIN_SECONDS * sample_rate:
            raise ValueError(f"a loop of {frames / sample_rate:.3f} s is too short to measure "
                             f"its seam (at least {MIN_SECONDS} s)")
        self.x, self.sample_rate, self.frames = x, sample_rate, frames
        self.floor = floors(x, sample_rate)
        self.reach = reach(sample_rate)
        self._click_sums = _click_sums(x, sample_rate)
        self._power_sums = _power_sums(x)
        self._measures = {"click": self._click, "dip": self._dip, "flux": self._flux}
        hops = {"click": click_width(sample_rate) // 2, "dip": max(1, rms_width(sample_rate) // 8)}
        self.positions = {name: np.arange(0, frames, hop) for name, hop in hops.items()}
        self.values = {"click": self._click(self.positions["click"]),
                       "dip": self._dip(self.positions["dip"])}
        self.positions["flux"], self.values["flux"], self._top = flux_grid(x, sample_rate, 0)

    def _click(self, positions: np.ndarray) -> np.ndarray:
        return _window_sums(self._click_sums, positions, click_width(self.sample_rate))

    def _dip(self, positions: np.ndarray) -> np.ndarray:
        return _dips(self._power_sums, positions, rms_width(self.sample_rate))

    def _flux(self, positions: np.ndarray) -> np.ndarray:
        """The pair straddling each position, as flux_grid frames and weighs them."""
        return flux_values(flux_power(self.x, self.sample_rate, positions), self._top)

    def at(self, position: int) -> SeamScores:
        """The scores of a seam at `position`, against the music away from it."""
        position %= self.frames
        out = {}
        for name, measure in self._measures.items():
            t = self.positions[name]
            distance = np.abs(t - position)
            distance = np.minimum(distance, self.frames - distance)
            inside = self.values[name][distance > self.reach[name]]
            here = measure(np.array([position]))[0]
            out[name] = float(ratio(here, inside, self.floor[name]))
        return SeamScores(**out)

    def estimate(self, positions: np.ndarray) -> np.ndarray:
        """The worst of the three scores at each position, each against its measure's 99th
        percentile all round (a seam's own neighbourhood barely moves it): for ranking."""
        positions = np.asarray(positions, dtype=np.int64) % self.frames
        worst = np.zeros(len(positions))
        for name, measure in self._measures.items():
            worst = np.maximum(worst, ratio(measure(positions), self.values[name],
                                            self.floor[name]))
        return worst


def seam_scores(period: np.ndarray, sample_rate: int) -> SeamScores:
    """Click, level dip and spectral flux at the seam of `period` (frames[, channels]) played
    end -> start, each over the 99th percentile of the same measure inside the period."""
    return SeamProfile(period, sample_rate).at(0)


def as_channels(period: np.ndarray) -> np.ndarray:
    """(frames[, channels]) audio as contiguous float32 (channels, frames), the layout the
    measures run fastest on (sums that need more precision accumulate in float64); a clear
    ValueError for anything that is not audio."""
    audio = np.asarray(period)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise ValueError(f"a loop period must be (frames,) or (frames, channels), "
                         f"not shape {np.shape(period)}")
    x = np.ascontiguousarray(audio.T, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("a loop period must not contain NaN or infinity")
    return x
