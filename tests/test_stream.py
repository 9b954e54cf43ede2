"""The playhead's logic on loops whose content is known: bar-line switches, equal-power
crossfades, and a late or failing producer never heard as silence."""

from __future__ import annotations

import numpy as np

from composer.audio import Loop, SeamScores
from composer.player.stream import Stream

RATE = 8000
QPM = 120.0
BAR = int(4 * 60 / QPM * RATE)  # 16000 frames


def noise_loop(seed: int, bars: int = 2, level: float = 0.3) -> Loop:
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal((bars * BAR, 2)) * level).astype(np.float32)
    return Loop(audio=audio, sample_rate=RATE, bars=bars, qpm=QPM,
                seam=SeamScores(1.0, 1.0, 1.0))


def rms(audio: np.ndarray, window: int) -> np.ndarray:
    frames = len(audio) // window * window
    return np.sqrt((audio[:frames] ** 2).mean(axis=1).reshape(-1, window).mean(axis=1))


def test_loop_repeats_then_crossfades_on_a_bar_line_with_constant_loudness():
    loops = [noise_loop(i) for i in range(4)]
    queue = list(loops)
    stream = Stream(lambda wait: queue.pop(0) if queue else None, loop_seconds=8.0,
                    crossfade_beats=4, realtime=False)
    out = stream.read(8 * BAR + 1234)  # blocks need not align with anything
    first = loops[0].audio
    # The first (2-bar, 4 s) loop plays exactly twice, end to start with no gap...
    np.testing.assert_array_equal(out[:4 * BAR], np.concatenate([first, first]))
    # ...then a one-bar equal-power crossfade starts exactly on the bar line at 8 s.
    fade = out[4 * BAR:5 * BAR]
    t = (np.arange(BAR) + 0.5) / BAR * np.pi / 2
    expected = first[:BAR] * np.cos(t)[:, None] + loops[1].audio[:BAR] * np.sin(t)[:, None]
    np.testing.assert_allclose(fade, expected, atol=1e-6)
    np.testing.assert_allclose(out[5 * BAR:6 * BAR], loops[1].audio[BAR:], atol=1e-6)
    # Every join is on record, for click checks: the wrap, the fade's start and end.
    assert {2 * BAR, 4 * BAR, 5 * BAR} <= set(stream.joins)
    assert stream.switches >= 1
    # Unrelated loops crossfaded with equal power keep the level within 1.5 dB.
    level = 20 * np.log10(rms(out[:8 * BAR], RATE // 20))
    assert level.max() - level.min() < 1.5


def test_a_late_loop_keeps_the_current_one_playing_and_switches_at_a_later_bar_line():
    a, b = noise_loop(1), noise_loop(2)
    ready: list[Loop] = [a]
    stream = Stream(lambda wait: ready.pop(0) if ready else None, loop_seconds=2.0,
                    crossfade_beats=0, realtime=True)
    out = stream.read(5 * BAR + BAR // 2)  # the switch was due after 2 bars; nothing ready
    assert stream.late == 1 and stream.switches == 0
    np.testing.assert_array_equal(out[2 * BAR:4 * BAR], a.audio)  # repeating, not silent
    ready.append(b)
    out = stream.read(2 * BAR)
    # b starts on the next bar line of a (at 6 bars), never in the middle of a bar.
    assert stream.switches == 1
    np.testing.assert_array_equal(out[:BAR // 2], a.audio[BAR + BAR // 2:])
    np.testing.assert_allclose(out[BAR // 2 + 1:], b.audio[1:3 * BAR // 2], atol=1e-6)
    assert stream.silent_frames == 0


def test_next_moves_on_at_the_next_bar_line():
    loops = [noise_loop(1, bars=4), noise_loop(2, bars=4)]
    stream = Stream(lambda wait: loops.pop(0) if loops else None, loop_seconds=60.0,
                    crossfade_beats=0, realtime=True)
    stream.read(BAR // 2)
    stream.request_next()
    out = stream.read(2 * BAR)
    assert stream.switches == 1
    # the rest of bar 1 of the first loop, then the second loop from its start
    np.testing.assert_allclose(out[BAR // 2 + 1:BAR // 2 + 1000],
                               stream.current.loop.audio[1:1000], atol=1e-6)


def test_nothing_ready_at_the_start_is_counted_as_silence_not_hidden():
    stream = Stream(lambda wait: None, realtime=True)
    out = stream.read(1000)
    assert not out.any() and stream.silent_frames == 1000


def test_a_loop_that_begins_before_its_downbeat_keeps_its_bar_lines():
    # The player may start a period a little before bar 1 (Loop.downbeat > 0) so its seam
    # falls in a sustain rather than on an attack; bar lines and crossfades stay musical.
    shift = 200
    a = noise_loop(1, bars=2)
    a = Loop(audio=np.roll(a.audio, shift, axis=0), sample_rate=RATE, downbeat=shift, bars=2,
             qpm=QPM, seam=a.seam)
    b = noise_loop(2, bars=2)
    b = Loop(audio=np.roll(b.audio, shift, axis=0), sample_rate=RATE, downbeat=shift, bars=2,
             qpm=QPM, seam=b.seam)
    queue = [a, b]
    stream = Stream(lambda wait: queue.pop(0) if queue else None, loop_seconds=4.0,
                    crossfade_beats=0, realtime=False)
    out = stream.read(4 * BAR)
    original_a, original_b = noise_loop(1, bars=2).audio, noise_loop(2, bars=2).audio
    np.testing.assert_array_equal(out[:2 * BAR], original_a)  # from its downbeat, whole
    # b comes in on a's bar line, from b's own downbeat
    np.testing.assert_allclose(out[2 * BAR + 1:3 * BAR], original_b[1:BAR], atol=1e-6)
    # and a's wrap (end of its period -> start) was on record, shift frames before its bar
    assert 2 * BAR - shift in stream.joins


def tempo_loop(seed: int, qpm: float, bars: int = 2, rate: int = RATE) -> Loop:
    """Noise with a click on every beat, at `qpm`: bar lines are where the clicks say."""
    beat = round(60.0 / qpm * rate)
    audio = (np.random.default_rng(seed).standard_normal((bars * 4 * beat, 2)) * 0.05)
    audio[::beat] += 0.5
    return Loop(audio=audio.astype(np.float32), sample_rate=rate, bars=bars, qpm=qpm,
                seam=SeamScores(1.0, 1.0, 1.0))


def test_loops_at_different_tempi_crossfade_onto_the_incoming_bar_lines_without_clicks():
    from composer.player.events import CrossfadeStarted, LoopStarted

    slow, fast = tempo_loop(1, 90.0), tempo_loop(2, 128.0)
    queue = [slow, fast, slow]
    events = []
    stream = Stream(lambda wait: queue.pop(0) if queue else None, loop_seconds=4.0,
                    crossfade_beats=4, realtime=False, on_event=events.append)
    out = stream.read(30 * RATE)
    starts = [e for e in events if isinstance(e, LoopStarted)]
    fades = [e for e in events if isinstance(e, CrossfadeStarted)]
    assert [e.loop.qpm for e in starts] == [90.0, 128.0, 90.0] and len(fades) == 2
    for fade in fades:
        incoming, outgoing = fade.incoming, fade.outgoing
        # It starts on a bar line of the outgoing loop (its deck began at frame 0 or at the
        # previous fade) ...
        began = next(e.frame for e in starts if e.loop is outgoing)
        out_bar = outgoing.frames // outgoing.bars
        assert (fade.frame - began) % out_bar == 0
        # ... and lasts exactly four beats of the incoming loop, so it ends on its grid.
        assert fade.frames == round(4 * 60.0 / incoming.qpm * RATE)
    # After the change every click of the 128 bpm loop is where its own grid puts it.
    fast_start = starts[1].frame
    fast_beat = round(60.0 / 128.0 * RATE)
    after = fast_start + fades[0].frames
    clicks = after + np.flatnonzero(np.abs(out[after:fades[1].frame, 0]) > 0.35)
    assert len(clicks) >= 4 and np.all((clicks - fast_start) % fast_beat == 0)
    # No discontinuity at the joins: every sample step near a fade's edges is no larger
    # than the loops' own steps (their clicks).
    steps = np.abs(np.diff(out, axis=0)).max(axis=1)
    ceiling = max(np.abs(np.diff(loop.audio, axis=0)).max() for loop in (slow, fast))
    for fade in fades:
        for edge in (fade.frame, fade.frame + fade.frames):
            assert steps[edge - 3:edge + 3].max() <= ceiling + 1e-6


def test_a_detector_loop_plays_from_its_own_bar_lines():
    """The loop detector's period begins on a bar line wherever it was cut from its clip
    (`source_start`); the stream plays it from there and changes on its bar lines."""
    from composer.player.events import CrossfadeStarted

    a = tempo_loop(3, 120.0)
    a = Loop(audio=a.audio, sample_rate=RATE, bars=2, qpm=120.0, seam=a.seam,
             source_start=5300)  # cut 5300 frames into some clip: irrelevant to playing
    b = noise_loop(4)
    queue = [a, b]
    events = []
    stream = Stream(lambda wait: queue.pop(0) if queue else None, loop_seconds=3.0,
                    crossfade_beats=1, realtime=False, on_event=events.append)
    out = stream.read(6 * BAR)
    np.testing.assert_array_equal(out[:BAR], a.audio[:BAR])  # from its first bar
    fade = next(e for e in events if isinstance(e, CrossfadeStarted))
    assert fade.frame % BAR == 0  # the change lands on one of its bar lines
