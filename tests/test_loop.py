"""The loop detector on real renders of corpus phrases and on synthetic audio with a known
answer, and `composer loop` run as a user runs it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile
from factories import run_cli

from composer.audio import Clip
from composer.loop import (
    LoopError,
    find_loop,
    read_audio,
    read_loop_points,
    seam_scores,
    write_loop,
)

SR = 44100


# --- synthetic audio with a known answer ------------------------------------------------

def _hit(seconds: float, decay: float, sound: np.ndarray) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sound[:len(t)] * np.exp(-t * decay)


def groove(seed: int, seconds: float = 20.0, bpm: float = 120.0, offset: float = 0.0) -> np.ndarray:
    """A drum-machine groove: kick, snare and hats (the same hit every time) over a bass line
    two bars long. Clean, steady material: every 2 bars repeat exactly."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    t = np.arange(int(0.5 * SR)) / SR
    kick = _hit(0.5, 8, np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t))
    snare = _hit(0.5, 18, rng.standard_normal(len(t)) * 0.6 + np.sin(2 * np.pi * 190 * t))
    hat = np.diff(_hit(0.5, 60, rng.standard_normal(len(t))), prepend=0.0)
    eighth = 30.0 / bpm
    bass_t = np.arange(int(eighth * SR)) / SR
    envelope = np.minimum(1, bass_t * 200) * np.exp(-bass_t * 4) * np.minimum(
        1, (bass_t[-1] - bass_t) * 200)
    notes = rng.choice([40, 43, 45, 47, 48], size=16)
    hat_level = rng.uniform(0.1, 0.25)
    for k in range(int((seconds - offset) / eighth) + 1):
        at = round((offset + k * eighth) * SR)
        parts = [(hat, hat_level * (1.0 if k % 2 == 0 else 0.6))]
        if k % 8 in (0, 4) or (k % 8 == 7 and seed % 2):
            parts.append((kick, 0.9))
        if k % 8 in (2, 6):
            parts.append((snare, 0.5))
        freq = 440.0 * 2 ** ((notes[k % 16] - 69) / 12)
        parts.append((np.sin(2 * np.pi * freq * bass_t) * envelope, 0.3))
        for sound, gain in parts:
            m = min(len(sound), n - at)
            if m > 0:
                out[at:at + m] += gain * sound[:m]
    stereo = np.stack([out, 0.9 * out + 0.1 * np.roll(out, 5)], axis=1)
    return (0.5 * stereo / np.max(np.abs(stereo))).astype(np.float32)


def pluck(rng: np.random.Generator) -> np.ndarray:
    """One plucked note of random pitch with a noisy attack, 0.8 s long."""
    t = np.arange(int(0.8 * SR)) / SR
    freq = 110.0 * 2 ** (rng.integers(0, 36) / 12)
    note = np.sin(2 * np.pi * freq * t) * np.exp(-t * 5) * np.minimum(1, t * 400)
    return 0.5 * note + 0.3 * np.diff(np.exp(-t * 90) * rng.standard_normal(len(t)), prepend=0)


def known_loop(seed: int, bpm: float = 104.0):
    """Plucked eighth notes (beats accented): an intro that is not a whole number of beats,
    then a 2-bar pattern played 4 times, then an outro. Every note rings out over what
    follows, as played music does, so only the pattern's repeats are periodic. Returns
    (audio, pattern start frame, pattern length in frames)."""
    rng = np.random.default_rng(seed)
    eighth = 30.0 / bpm
    pattern = [pluck(rng) * (1.0 if k % 2 == 0 else 0.4) for k in range(16)]
    times, sounds = [], []
    for k in range(6):  # intro, on its own grid
        times.append(k * 0.23)
        sounds.append(pluck(rng))
    begin = 6 * 0.23
    period = round(16 * eighth * SR)
    for rep in range(4):
        for k, sound in enumerate(pattern):
            times.append(begin + (rep * period + round(k * eighth * SR)) / SR)
            sounds.append(sound)
    for k in range(5):  # outro
        times.append(begin + 4 * period / SR + k * 0.31)
        sounds.append(pluck(rng))
    out = np.zeros(int((times[-1] + 1.0) * SR))
    for at, sound in zip(times, sounds):
        i = round(at * SR)
        out[i:i + len(sound)] += sound
    out = out / np.max(np.abs(out)) * 0.5
    return np.stack([out, out], axis=1).astype(np.float32), round(begin * SR), period


# --- real renders of corpus phrases ------------------------------------------------------

@pytest.fixture(scope="module")
def renderer():
    from composer.render import Renderer

    with Renderer() as synth:
        yield synth


def phrase(path: Path, bars: int = 8, start_bar: int = 1):
    """`bars` bars of a corpus piece (constant tempo) as a NoteSequence, and its bar length."""
    from note_seq import sequences_lib

    from composer.render import read_sequence

    sequence = read_sequence(path)
    qpm = sequence.tempos[0].qpm if sequence.tempos else 120.0
    bar = 4 * 60.0 / qpm
    part = sequences_lib.extract_subsequence(sequence, start_bar * bar, (start_bar + bars) * bar)
    part.total_time = bars * bar
    return part, bar


@pytest.fixture(scope="module")
def rendered(renderer, chorales) -> list[tuple[Clip, float]]:
    """Four 8-bar chorale phrases rendered by FluidSynth with the GM soundfont."""
    out = []
    for path in chorales[:4]:
        sequence, bar = phrase(path)
        out.append((renderer.render(sequence), bar))
    return out


def test_rendered_corpus_phrases_loop_with_seams_no_more_abrupt_than_the_music(rendered):
    for clip, bar in rendered:
        loop = find_loop(clip, max_bars=4)
        assert clip.qpm and loop.scores["exact_grid"] == 1.0
        assert 1 <= loop.bars <= 4
        # Exact grid: the period is the bars' length, give or take the 2 ms that let held
        # notes meet in phase, and the tempo written with it is the one it plays at.
        assert abs(loop.frames - loop.bars * bar * SR) <= 0.002 * SR + 1
        assert loop.qpm == pytest.approx(60.0 * SR * loop.bars * 4 / loop.frames)
        assert abs(loop.scores["shift_ms"]) <= 60.0
        assert loop.seam.ok, loop.seam
        assert np.array_equal(loop.audio, clip.audio[loop.source_start:loop.source_end])
        again = seam_scores(loop.audio, SR)
        assert again == loop.seam  # what is reported is what anyone measures on the period
        assert loop.phrase is not None and len(loop.phrase.sequence.notes) > 0


def test_a_deliberately_bad_seam_scores_above_one(rendered):
    for clip, bar in rendered[:2]:
        loop = find_loop(clip, bars=2)
        assert loop.seam.ok
        # Cut up to a beat late, where the waveform jumps the most: the end stops mid-note.
        beat = int(bar * SR / 4)
        ends = loop.source_end + np.arange(beat // 8, beat)
        jump = np.abs(clip.audio[ends] - clip.audio[loop.source_start]).sum(axis=1)
        late = clip.audio[loop.source_start:ends[np.argmax(jump)]]
        assert seam_scores(late, SR).click > 1.0
        # Fade the edges to hide the seam: a level dip.
        faded = loop.audio.copy()
        ramp = np.linspace(0.0, 1.0, int(0.01 * SR), dtype=np.float32)[:, None]
        faded[:len(ramp)] *= ramp
        faded[-len(ramp):] *= ramp[::-1]
        assert seam_scores(faded, SR).dip > 1.0


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_120_bpm_groove_gives_a_1_2_or_4_bar_loop(seed):
    audio = groove(seed, offset=[0.0, 0.37, 1.1, 0.05, 0.8][seed])
    loop = find_loop(Clip(audio=audio, sample_rate=SR))
    assert loop.scores["exact_grid"] == 0.0
    assert loop.bars in (1, 2, 4)
    assert abs(loop.seconds - loop.bars * 2.0) < 0.005
    assert abs(loop.qpm - 120.0) < 0.3
    assert loop.seam.ok, loop.seam


@pytest.mark.parametrize("seed", [0, 1])
def test_a_known_loop_is_found_within_a_few_ms(seed):
    audio, start, period = known_loop(seed)
    loop = find_loop(Clip(audio=audio, sample_rate=SR), bars=2)
    beat = period / 8
    assert abs(loop.frames - period) <= 0.003 * SR
    # It starts on one of the pattern's beats (any rotation of a loop is the same loop), give
    # or take the few milliseconds it reports having moved the join to miss an attack ...
    shift = loop.scores["shift_ms"] * SR / 1000
    assert abs(shift) <= 0.06 * SR
    offset = (loop.source_start - shift - start) % beat
    assert min(offset, beat - offset) <= 0.003 * SR
    # ... inside the repeated part, not in the intro or outro.
    assert loop.source_start >= start - 0.003 * SR and loop.source_end <= start + 4 * period + 0.003 * SR
    assert loop.seam.ok, loop.seam


def test_a_known_tempo_uses_the_exact_grid():
    # The groove starts 0.37 s in, so its attacks are off the exact grid that starts at 0:
    # a loop on the grid (plus its small shift) proves the grid was not estimated.
    audio = groove(3, offset=0.37)
    loop = find_loop(Clip(audio=audio, sample_rate=SR, qpm=120.0), bars=2)
    assert loop.scores["exact_grid"] == 1.0 and loop.qpm == 120.0
    assert loop.frames == 4 * SR  # exactly 2 bars, no length correction
    shift = round(loop.scores["shift_ms"] * SR / 1000)
    on_grid = (loop.source_start - shift) % (SR // 2)
    assert min(on_grid, SR // 2 - on_grid) <= 0.0011 * SR  # the last snap moves <= 1 ms
    estimated = find_loop(Clip(audio=audio, sample_rate=SR), bars=2)
    phase = (estimated.source_start - int(0.37 * SR)) % (SR // 2)
    assert min(phase, SR // 2 - phase) <= 0.004 * SR  # estimated: on the attacks instead


def test_seam_scores_take_any_period():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    steady = (0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.01 * rng.standard_normal(SR))
    assert seam_scores(steady, SR).ok  # mono, 1-D, 220 whole periods: seamless
    broken = 0.3 * np.sin(2 * np.pi * 223.3 * t)  # the wrap cuts the sine mid-cycle
    assert seam_scores(np.stack([broken, broken], axis=1), SR).click > 1.0
    with pytest.raises(ValueError, match="too short"):
        seam_scores(steady[:1000], SR)
    with pytest.raises(ValueError, match="NaN"):
        seam_scores(np.full(SR, np.nan), SR)


def test_a_circular_period_wraps_where_it_joins_best():
    """The downbeat when it is seamless; else another bar line, never a broken join."""
    from composer.loop.seam import SeamProfile
    from composer.loop.wrap import choose_wrap

    rng = np.random.default_rng(1)
    t = np.arange(SR) / SR
    noise = 0.01 * rng.standard_normal((SR, 2))
    steady = 0.3 * np.sin(2 * np.pi * 220.0 * t)[:, None] + noise
    assert choose_wrap(steady, SR, bars=4)[0] == 0
    broken = 0.3 * np.sin(2 * np.pi * 223.3 * t)[:, None] + noise  # cut mid-cycle at 0 only
    assert not seam_scores(broken, SR).ok
    start, scores = choose_wrap(broken, SR, bars=4)
    assert scores.ok and start % (SR // 4) in (0, *[SR // 4 - round(ms * SR / 1000)
                                                   for ms in (8.7, 4.35, 13.0, 17.4)])
    assert start % SR != 0
    assert scores == seam_scores(np.roll(broken, -start, axis=0), SR)
    # the profile scores the downbeat exactly as seam_scores does, and ranks the break worst
    profile = SeamProfile(broken, SR)
    assert profile.at(0) == seam_scores(broken, SR)
    positions = np.arange(0, SR, SR // 8)
    assert np.argmax(profile.estimate(positions)) == 0


# --- files ---------------------------------------------------------------------------------

def _smpl_loops(path: Path) -> list[tuple[int, int]]:
    """(start, end inclusive) of every loop in the WAV's smpl chunk, parsed independently."""
    data = path.read_bytes()
    pos, loops = 12, []
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if tag == b"smpl":
            count = struct.unpack_from("<I", data, pos + 8 + 28)[0]
            for i in range(count):
                _, _, start, end, _, _ = struct.unpack_from("<6I", data, pos + 8 + 36 + 24 * i)
                loops.append((start, end))
        pos += 8 + size + (size & 1)
    return loops


def test_written_loops_carry_their_loop_points_and_tempo(tmp_path):
    loop = find_loop(Clip(audio=groove(1), sample_rate=SR, qpm=120.0), bars=2)
    wav, flac = write_loop(tmp_path / "a.wav", loop), write_loop(tmp_path / "a.flac", loop)
    for path in (wav, flac):
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        assert rate == SR and len(audio) == loop.frames
        assert np.max(np.abs(audio - loop.audio)) < 1e-4  # 16-bit of the same samples
        points = read_loop_points(path)
        assert (points.start, points.end, points.frames) == (0, loop.frames, loop.frames)
        assert points.bpm == pytest.approx(120.0) and points.beats == 8
    assert _smpl_loops(wav) == [(0, loop.frames - 1)]
    info = soundfile.info(str(wav)).extra_info  # libsndfile's own reading of the chunks
    assert f"End : {loop.frames - 1}" in " ".join(info.split()).replace(" :", " :")
    assert "Tempo : 120.000000" in " ".join(info.split())
    with pytest.raises(LoopError, match="b.ogg"):
        write_loop(tmp_path / "b.ogg", loop)
    soundfile.write(str(tmp_path / "plain.wav"), loop.audio, SR)
    with pytest.raises(LoopError, match="plain.wav: no loop points"):
        read_loop_points(tmp_path / "plain.wav")


# --- the command ---------------------------------------------------------------------------

def test_composer_loop_writes_a_wav_whose_smpl_chunk_is_the_loop(tmp_path):
    source = tmp_path / "groove.wav"
    soundfile.write(str(source), groove(4, offset=0.21), SR)
    out = tmp_path / "loop.wav"
    result = run_cli("loop", source, "-o", out, "--bars", "1", check=True)  # beat tracking
    assert result.stdout.startswith(f"{out}: 1 bar, ") and "seam click" in result.stdout
    frames = soundfile.info(str(out)).frames
    assert abs(frames - 2 * SR) <= 0.005 * SR
    assert _smpl_loops(out) == [(0, frames - 1)]
    points = read_loop_points(out)
    assert (points.start, points.end, points.beats) == (0, frames, 4)
    assert points.bpm == pytest.approx(120.0, abs=0.3)


def test_composer_loop_with_a_given_tempo_cuts_whole_bars_exactly(tmp_path):
    source = tmp_path / "groove.wav"
    soundfile.write(str(source), groove(2), SR)
    out = tmp_path / "loop.wav"
    run_cli("loop", source, "-o", out, "--qpm", "120", check=True)
    frames = soundfile.info(str(out)).frames
    points = read_loop_points(out)
    assert frames == points.beats * SR // 2 and points.beats // 4 in (1, 2, 4, 8)
    assert _smpl_loops(out) == [(0, frames - 1)] and points.bpm == 120.0


def test_composer_loop_renders_midi_on_its_exact_grid_and_reports(tmp_path, chorales):
    from composer.render import read_sequence

    qpm = read_sequence(chorales[1]).tempos[0].qpm
    out = tmp_path / "chorale.flac"
    result = run_cli("loop", chorales[1], "-o", out, "--bars", "2", "--report", check=True)
    for text in ("exact, from the score", "click", "level dip", "spectral flux", "<= 1"):
        assert text in result.stdout
    frames = soundfile.info(str(out)).frames
    assert abs(frames - 2 * 4 * 60.0 / qpm * SR) <= 0.002 * SR + 1
    points = read_loop_points(out)  # Vorbis comments LOOPSTART / LOOPLENGTH / BPM
    assert (points.start, points.end, points.beats) == (0, frames, 8)
    assert points.bpm == pytest.approx(60.0 * SR * 8 / frames, abs=1e-3)


def test_composer_loop_rejects_bad_input_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros((SR, 2), np.float32), SR)
    cases = [((garbage, "-o", tmp_path / "o.wav"), "garbage.wav: not an audio file"),
             ((silent, "-o", tmp_path / "o.wav"), "silent.wav: silent, nothing to loop")]
    for args, message in cases:
        result = run_cli("loop", *args)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
        assert not (tmp_path / "o.wav").exists()


def test_unreadable_empty_and_short_input_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(LoopError, match="empty.wav: not an audio file"):
        read_audio(empty)
    with pytest.raises(LoopError, match="none.wav: no such file"):
        read_audio(tmp_path / "none.wav")
    with pytest.raises(LoopError, match="is a folder"):
        read_audio(tmp_path)
    with pytest.raises(LoopError, match="song.wav: silent"):
        find_loop(Clip(audio=np.zeros((SR, 2), np.float32)), name="song.wav")
    with pytest.raises(LoopError, match="x.wav: 3.0 s at 120 bpm is too short for a 4-bar loop"):
        find_loop(Clip(audio=groove(0, seconds=3.0), qpm=120.0), bars=4, name="x.wav")
    with pytest.raises(LoopError, match="--bars must be at least 1"):
        find_loop(Clip(audio=groove(0, seconds=3.0), qpm=120.0), bars=0, name="x.wav")
