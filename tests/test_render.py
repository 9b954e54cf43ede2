"""The render stage: real FluidSynth, the real GM soundfont, real chorales.

Seam tests compare against what a continuous render of the same music sounds like. Phrase
lengths there are whole FluidSynth blocks (64 frames) because FluidSynth applies events on
block boundaries; with the dry renderer (no reverb, no chorus) the match is then exact to
float rounding, with reverb it is limited by the reverb's internal modulation, whose phase
carries over from render to render.
"""

from __future__ import annotations

import factories as f
import numpy as np
import pytest
import soundfile
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from composer.audio import Clip
from composer.render import (
    Renderer,
    RenderError,
    integrated_loudness,
    normalize,
    overlap_add,
    peak_db,
    read_sequence,
    wrap_tail,
    write_audio,
)
from composer.render.events import DRUM_BANK, DRUM_CHANNEL, OFF, ON, schedule

SR = 44100


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


@pytest.fixture(scope="module")
def dry():
    with Renderer(reverb=False, chorus=False) as r:
        yield r


def excerpt(sequence, start: float, blocks: int):
    """`blocks` x 64 frames of a sequence from `start`, notes cut at the end, times from 0."""
    frames = 64 * blocks
    out = sequences_lib.extract_subsequence(sequence, start, start + frames / SR)
    out.total_time = frames / SR
    return out


def note_sequence(notes, total: float, program: int = 0, is_drum: bool = False):
    seq = music_pb2.NoteSequence()
    seq.tempos.add(time=0.0, qpm=120.0)
    for pitch, start, end in notes:
        seq.notes.add(pitch=pitch, velocity=100, start_time=start, end_time=end,
                      program=program, is_drum=is_drum)
    seq.total_time = total
    return seq


def error_db(audio: np.ndarray, reference: np.ndarray) -> float:
    """Energy of the difference relative to the reference's, in dB."""
    n = min(len(audio), len(reference))
    diff = audio[:n].astype(np.float64) - reference[:n]
    return float(10 * np.log10((np.mean(diff ** 2) + 1e-30)
                               / np.mean(reference[:n].astype(np.float64) ** 2)))


def rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-30))


def spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mono = audio.mean(axis=1)
    return np.fft.rfftfreq(len(mono), 1 / SR), np.abs(np.fft.rfft(mono))


def centroid(audio: np.ndarray) -> float:
    freqs, mags = spectrum(audio)
    return float((freqs * mags).sum() / mags.sum())


# -- one phrase ----------------------------------------------------------------------------

def test_chorale_renders_to_stereo_float_with_a_decaying_tail(renderer, chorales):
    sequence = read_sequence(chorales[0])
    clip = renderer.render(sequence)
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 2 and clip.audio.shape[1] == 2
    assert clip.sample_rate == SR and clip.frames == round(sequence.total_time * SR)
    assert clip.qpm == pytest.approx(sequence.tempos[0].qpm)
    tail = clip.tail
    assert 0.05 * SR < len(tail) < renderer.max_tail * SR  # rang on, then stopped by itself
    chunk = SR // 20
    assert rms_db(tail[:chunk]) - rms_db(tail[-chunk:]) > 30  # decays, ends near silence
    # the music is heard throughout (a chorale rests only between phrases)
    windows = clip.body[:len(clip.body) // 4410 * 4410].reshape(-1, 4410, 2).astype(np.float64)
    assert np.mean(10 * np.log10((windows ** 2).mean(axis=(1, 2)) + 1e-30) > -40) > 0.9
    assert integrated_loudness(clip.audio, SR) == pytest.approx(-16.0, abs=0.5)
    assert peak_db(clip.audio) <= -1.0 + 1e-4


def test_pitch_and_program_reach_the_synth(dry):
    """A4 on a flute has its fundamental at 440 Hz; the same notes on a tuba sound darker."""
    freqs, mags = spectrum(dry.render(note_sequence([(69, 0, 1.0)], 1.0, program=73)).audio)
    assert freqs[np.argmax(mags)] == pytest.approx(440.0, rel=0.01)
    notes = [(p, i * 0.25, (i + 1) * 0.25) for i, p in enumerate([48, 52, 55, 60, 55, 52])]
    flute = dry.render(note_sequence(notes, 1.5, program=73)).audio
    tuba = dry.render(note_sequence(notes, 1.5, program=58)).audio
    assert centroid(flute) > 1.5 * centroid(tuba)
    # --program replaces the file's program on every pitched track
    overridden = dry.render(note_sequence(notes, 1.5, program=58), program=73).audio
    assert error_db(overridden, flute) < -60


def test_midi_file_programs_are_used(dry, tmp_path):
    notes = f.scale_notes([60, 64, 67, 72], step=0.3)
    flute = dry.render_midi(f.write_midi(tmp_path / "flute.mid", notes, program=73))
    tuba = dry.render_midi(f.write_midi(tmp_path / "tuba.mid", notes, program=58))
    assert centroid(flute.audio) > 1.5 * centroid(tuba.audio)


def test_drums_play_the_kit_on_time(dry):
    hits = [(36, t, t + 0.1) for t in (0.0, 0.5, 1.0, 1.5)]
    kit = dry.render(note_sequence(hits, 2.0, is_drum=True), normalize=False).audio
    level = np.abs(kit).max(axis=1)
    for t in (0.5, 1.0, 1.5):  # each kick starts within 20 ms of its time, from near quiet
        at = int(t * SR)
        assert level[at:at + SR // 50].max() > 4 * level[at - SR // 30:at - SR // 200].max()
    # note 42 on the kit is a closed hi-hat (noise, bright); on a piano it is F#2 (92 Hz)
    hat = dry.render(note_sequence([(42, 0, 0.2)], 0.5, is_drum=True)).audio
    piano = dry.render(note_sequence([(42, 0, 0.2)], 0.5)).audio
    assert centroid(hat) > 3000 and centroid(piano) < 1500


def test_schedule_puts_drums_on_channel_10_and_tracks_apart():
    seq = note_sequence([(60, 0, 1), (60, 1, 1)], 2.0, program=40)  # second is zero-length
    seq.notes.add(pitch=36, velocity=90, start_time=0, end_time=0.1, is_drum=True, instrument=1)
    seq.notes.add(pitch=48, velocity=90, start_time=0, end_time=1, program=32, instrument=2)
    seq.control_changes.add(time=0.5, control_number=64, control_value=127, program=40)
    events = schedule(seq, SR)
    drums = [t for t in events.tracks if t.is_drum]
    pitched = [t for t in events.tracks if not t.is_drum]
    assert [(t.channel, t.bank) for t in drums] == [(DRUM_CHANNEL, DRUM_BANK)]
    assert sorted(t.program for t in pitched) == [32, 40]
    assert len({t.channel for t in pitched}) == 2 and all(t.channel % 16 != 9 for t in pitched)
    assert np.all(np.diff(events.sample) >= 0)
    on = events.sample[events.kind == ON]
    off = events.sample[events.kind == OFF]
    assert len(on) == len(off) == 4 and np.all(np.sort(off - np.sort(on)) >= 0)
    assert 1 in (off - on)  # the zero-length note still ends, one frame after it starts
    assert schedule(seq, SR, program=0).tracks != events.tracks


def test_nothing_leaks_from_one_render_into_the_next(renderer, dry):
    loud = note_sequence([(p, 0, 1.0) for p in (48, 55, 60, 64)], 1.0, program=48)
    late = note_sequence([(60, 0.5, 1.0)], 1.0)
    for synth, floor in ((dry, 0.0), (renderer, 1e-5)):
        cut = synth.render(loud, normalize=False, max_tail=0.05).audio  # stopped while ringing
        assert np.abs(cut[-SR // 100:]).max() > 1e-3
        after = synth.render(late, normalize=False).audio
        assert np.abs(after[:SR // 2 - 64]).max() <= floor  # silent until its first note
        assert np.abs(after[SR // 2:]).max() > 1e-3


def test_silence_renders_as_silence(renderer):
    clip = renderer.render(note_sequence([], 2.0))
    assert clip.audio.shape == (2 * SR, 2) and not clip.audio.any()


# -- seams ---------------------------------------------------------------------------------

def test_overlap_add_equals_playing_the_phrases_back_to_back(renderer, dry, chorales):
    a = excerpt(read_sequence(chorales[0]), 0.0, 2756)  # 4 s, in whole blocks
    b = excerpt(read_sequence(chorales[1]), 0.0, 2756)
    both = sequences_lib.concatenate_sequences([a, b])
    seam = slice(2756 * 64 - SR // 2, 2756 * 64 + SR)  # around the join
    for synth, limit in ((dry, -60.0), (renderer, -20.0)):
        clips = [synth.render(x, normalize=False) for x in (a, b)]
        assert len(clips[0].tail) > SR // 20  # there is a tail to carry over
        continuous = synth.render(both, normalize=False).audio
        joined = overlap_add(clips)
        cut = np.concatenate([clips[0].body, clips[1].audio])  # tail dropped at the join
        assert len(joined) == clips[0].frames + len(clips[1].audio)
        assert error_db(joined[seam], continuous[seam]) < limit
        assert error_db(joined[seam], continuous[seam]) < error_db(cut[seam], continuous[seam]) - 8


@pytest.mark.parametrize("blocks", [1378, 172])  # 2 s; 0.25 s, shorter than its own tail
def test_wrapped_loop_repeats_like_a_continuous_render(renderer, dry, chorales, blocks):
    phrase = excerpt(read_sequence(chorales[2]), 2.0, blocks)
    frames = 64 * blocks
    for synth, limit in ((dry, -60.0), (renderer, -20.0)):
        clip = synth.render(phrase, normalize=False)
        laps = -(-len(clip.audio) // frames)  # periods the phrase sounds in, tail included
        assert laps >= (2 if blocks == 1378 else 3)
        period = wrap_tail(clip)
        assert period.shape == (frames, 2)
        repeats = laps + 2
        continuous = synth.render(sequences_lib.concatenate_sequences([phrase] * repeats),
                                  normalize=False).audio
        steady = continuous[(repeats - 1) * frames:repeats * frames]  # every earlier tail in
        assert error_db(period, steady) < limit
        early = slice(0, min(len(clip.tail), frames))  # where the folded tail sounds
        assert error_db(period[early], steady[early]) < error_db(clip.body[early],
                                                                 steady[early]) - 8
        # the loop's own seam (its end running into its start) is the continuous render's
        join = continuous[(repeats - 1) * frames - 256:(repeats - 1) * frames + 256]
        assert error_db(np.concatenate([period[-256:], period[:256]]), join) < limit


def test_render_loop_gives_one_normalised_period(renderer, chorales):
    sequence = read_sequence(chorales[3])
    qpm = sequence.tempos[0].qpm
    clip = renderer.render_loop(sequence, bars=2, qpm=qpm)
    period = clip.audio
    assert len(period) == clip.length == round(2 * 4 * 60 / qpm * SR) and not len(clip.tail)
    assert clip.phrase.bars == 2 and clip.qpm == pytest.approx(qpm)
    assert integrated_loudness(period, SR) == pytest.approx(-16.0, abs=0.5)
    assert peak_db(period) <= -1.0 + 1e-4


def test_render_loop_leaves_out_what_starts_after_the_period(dry):
    """One bar at 120 qpm is 2 s: the note at 3 s is not in the loop, the one held over the
    loop point is, wrapping round onto the start."""
    notes = [(60, 0.0, 0.5), (67, 1.5, 2.6), (84, 3.0, 3.5)]
    period = dry.render_loop(note_sequence(notes, 4.0), bars=1, qpm=120.0, normalize=False).audio
    expected = wrap_tail(dry.render(note_sequence(notes[:2], 2.0), normalize=False))
    assert len(period) == 2 * SR and error_db(period, expected) < -60


@pytest.mark.parametrize("signature, beats, grid_qpm, bar_s", [
    ((4, 4), 4, 120.0, 2.0), ((3, 4), 3, 120.0, 1.5), ((6, 8), 3, 120.0, 1.5),
    ((2, 2), 4, 120.0, 2.0), ((12, 8), 6, 120.0, 3.0), ((3, 8), 3, 240.0, 0.75),
    ((7, 8), 7, 240.0, 1.75)])
def test_bars_follow_the_time_signature(dry, signature, beats, grid_qpm, bar_s):
    """A 6/8 bar is three quarter notes long, not six; 3/8 and 7/8 count eighths."""
    seq = note_sequence([(60 + i % 5, i * 0.25, i * 0.25 + 0.2) for i in range(24)], 6.0)
    seq.time_signatures.add(time=0.0, numerator=signature[0], denominator=signature[1])
    clip = dry.render(seq, normalize=False)
    assert (clip.beats_per_bar, clip.qpm) == (beats, grid_qpm)
    assert np.diff(clip.grid().bars)[0] == round(bar_s * SR)
    assert dry.render_loop(seq, bars=2, normalize=False).frames == round(2 * bar_s * SR)

def test_wrap_tail_folds_modulo_the_period():
    audio = np.arange(10, dtype=np.float32)[:, None].repeat(2, axis=1)
    period = wrap_tail(Clip(audio=audio, frames=4))
    assert period[:, 0].tolist() == [0 + 4 + 8, 1 + 5 + 9, 2 + 6, 3 + 7]
    joined = overlap_add([Clip(audio=audio[:6], frames=4), Clip(audio=audio[:3], frames=2)])
    assert joined[:, 0].tolist() == [0, 1, 2, 3, 4 + 0, 5 + 1, 2]


# -- loudness ------------------------------------------------------------------------------

def test_normalize_hits_the_target_and_the_ceiling():
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    quiet = (0.01 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None].repeat(2, axis=1)
    out, gain = normalize(quiet, SR, -16.0, -1.0)
    assert integrated_loudness(out, SR) == pytest.approx(-16.0, abs=0.1) and gain > 1
    # a soft bed with sharp clicks: gain alone would push the clicks far past full scale
    spiky = (0.02 * rng.standard_normal((3 * SR, 2))).astype(np.float32)
    spiky[::SR // 4] = 0.9
    out, gain = normalize(spiky, SR, -12.0, -1.0)
    assert peak_db(spiky) + 20 * np.log10(gain) > 3  # the limiter had real work to do
    assert peak_db(out) <= -1.0 + 1e-4
    assert integrated_loudness(out, SR) == pytest.approx(-12.0, abs=0.5)
    silent, gain = normalize(np.zeros((SR, 2), np.float32), SR)
    assert gain == 1.0 and not silent.any()
    short, _ = normalize(quiet[:SR // 10], SR)  # shorter than a 400 ms gating block
    assert np.isfinite(peak_db(short)) and peak_db(short) <= -1.0 + 1e-4


# -- files and the command line ------------------------------------------------------------

def test_write_audio_formats_and_errors(tmp_path):
    audio = (0.5 * np.sin(np.linspace(0, 200, SR))).astype(np.float32)[:, None].repeat(2, 1)
    for name, depth, subtype in (("a.wav", "16", "PCM_16"), ("b.wav", "float", "FLOAT"),
                                 ("c.flac", "24", "PCM_24")):
        write_audio(tmp_path / name, audio, SR, depth)
        info = soundfile.info(str(tmp_path / name))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 2, SR, subtype)
    back, _ = soundfile.read(str(tmp_path / "b.wav"), dtype="float32")
    assert np.array_equal(back, audio)
    with pytest.raises(ValueError, match="x.ogg"):
        write_audio(tmp_path / "x.ogg", audio, SR)
    with pytest.raises(ValueError, match="d.flac"):
        write_audio(tmp_path / "d.flac", audio, SR, "float")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav", "c.flac"]


def test_cli_renders_wav_and_flac(chorales, tmp_path):
    source = min(chorales, key=lambda p: read_sequence(p).total_time)
    sequence = read_sequence(source)
    wav = tmp_path / "out" / "chorale.wav"
    result = f.run_cli("render", source, "-o", wav, check=True)
    assert str(wav) in result.stdout and "LUFS" in result.stdout
    audio, rate = soundfile.read(str(wav), dtype="float32")
    assert rate == SR and audio.shape[1] == 2
    assert sequence.total_time < len(audio) / rate < sequence.total_time + 5.0
    assert integrated_loudness(audio, rate) == pytest.approx(-16.0, abs=0.5)
    assert peak_db(audio) <= -1.0 + 1e-3

    flac = tmp_path / "chorale.flac"
    f.run_cli("render", source, "-o", flac, "--sample-rate", "22050", "--program", "73",
              "--lufs", "-20", "--depth", "24", "--no-reverb", check=True)
    info = soundfile.info(str(flac))
    assert (info.samplerate, info.channels, info.subtype) == (22050, 2, "PCM_24")
    assert sequence.total_time < info.duration < sequence.total_time + 5.0
    audio, rate = soundfile.read(str(flac), dtype="float32")
    assert integrated_loudness(audio, rate) == pytest.approx(-20.0, abs=0.5)


BAD_MIDI = [
    (lambda p: p, "no such file"),
    (f.empty, "the file is empty"),
    (f.garbage, "cannot parse MIDI"),
    (f.zero_notes, "no notes"),
    (f.html_named_mid, "an HTML page"),
    (lambda p: f.truncated_header(p), "truncated MIDI header"),
]


@pytest.mark.parametrize("make, words", BAD_MIDI)
def test_bad_midi_is_one_error_naming_the_file(tmp_path, make, words):
    source = make(tmp_path / "in.mid")
    with pytest.raises(RenderError) as caught:
        read_sequence(source)
    assert str(caught.value).startswith(f"{source}: ") and words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_rejects_bad_input_in_one_line(chorales, tmp_path):
    source, out = tmp_path / "missing.mid", tmp_path / "out.wav"
    result = f.run_cli("render", source, "-o", out)
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {source}: no such file")
    result = f.run_cli("render", chorales[0], "-o", tmp_path / "out.mp3")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "out.mp3" in result.stderr and ".wav or .flac" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_folder_is_not_a_midi_file(tmp_path):
    with pytest.raises(RenderError, match="is a folder"):
        read_sequence(tmp_path)


def test_a_file_that_is_not_a_soundfont_is_refused_before_loading(tmp_path):
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(100))
    with pytest.raises(RenderError, match="junk.sf2: not a SoundFont"):
        Renderer(junk)


def test_the_loudness_meter_is_pyloudnorms_without_its_import(renderer, chorales):
    """Our numpy BS.1770 meter against pyloudnorm (the reference, which filters with
    scipy.signal): rendered music, noise with quiet stretches the gates must drop, and
    several sample rates."""
    import pyloudnorm

    clip = renderer.render(read_sequence(chorales[2]), normalize=False)
    cases = [(clip.audio, SR)]
    rng = np.random.default_rng(0)
    for rate in (22050, 48000):
        noise = (rng.standard_normal((rate * 5, 2)) * 0.2).astype(np.float32)
        noise[:rate * 2] *= 0.003  # far below the relative gate
        cases.append((noise, rate))
    for audio, rate in cases:
        ours = integrated_loudness(audio, rate)
        assert ours == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(audio), abs=0.01)


def test_the_limiters_running_filters_are_scipys():
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    from composer.render.loudness import running_mean, running_min

    values = np.random.default_rng(1).uniform(0, 1, 50_001)
    for size in (1, 3, 441, 4097, 50_001, 120_001):
        np.testing.assert_array_equal(running_min(values, size),
                                      minimum_filter1d(values, size, mode="nearest"))
        np.testing.assert_allclose(running_mean(values, size),
                                   uniform_filter1d(values, size, mode="nearest"), atol=1e-9)
