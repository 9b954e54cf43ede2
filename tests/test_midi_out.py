"""Live MIDI out: which messages a loop makes (exactly), and that they leave on time when the
player plays (through a recording port: this machine has no ALSA sequencer, so the rtmidi
port itself is only opened where one exists)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from note_seq import NoteSequence

from composer.audio import Loop, SeamScores
from composer.phrase import Phrase
from composer.player import LoopStarted, Paced, Player, PlaySettings
from composer.player.midi_out import (
    CLOCK,
    CONTROL,
    NOTE_OFF,
    NOTE_ON,
    PROGRAM,
    START,
    STOP,
    MidiOut,
    Segment,
    loop_messages,
    open_port,
)
from composer.player.sinks import NullSink

RATE = 8000


def phrase_loop(qpm: float, notes, bars: int = 1, program: int = 0) -> Loop:
    """A loop whose phrase holds `notes` (pitch, start s, end s) on `program`."""
    seconds = bars * 4 * 60.0 / qpm
    sequence = NoteSequence()
    for pitch, start, end in notes:
        sequence.notes.add(pitch=pitch, start_time=start, end_time=end, velocity=100,
                           program=program)
    phrase = Phrase.make(sequence, qpm, bars)
    audio = np.zeros((round(seconds * RATE), 2), np.float32)
    return Loop(audio=audio, sample_rate=RATE, bars=bars, qpm=qpm,
                seam=SeamScores(0.0, 0.0, 0.0), phrase=phrase)


def test_a_loop_repeats_its_notes_and_releases_them_when_the_next_comes_in():
    loop = phrase_loop(120.0, [(60, 0.0, 0.5), (64, 1.0, 2.5)], program=33)  # 2 s a bar
    stop = 1000 + 2 * 16000 + 12000  # the next loop comes in during the third repetition
    messages = loop_messages(Segment(loop, 1000, stop), 0, 60000)
    notes = [(frame, m) for frame, m in messages if m[0] != CLOCK]
    assert notes[0] == (1000, [PROGRAM | 0, 33])  # the program first, on its own channel
    expected = []
    for k in range(3):
        base = 1000 + k * 16000
        expected += [(base, [NOTE_ON, 60, 100]), (base + 4000, [NOTE_OFF, 60, 0])]
        on = base + 8000
        if on < stop:
            # held past the period's end: released at the end (the loop's seam), or when
            # the next loop comes in
            expected += [(on, [NOTE_ON, 64, 100]), (min(base + 16000, stop), [NOTE_OFF, 64, 0])]
    assert sorted(notes[1:]) == sorted(expected)
    ticks = [frame for frame, m in messages if m == [CLOCK]]
    step = RATE * 60.0 / (120.0 * 24)  # 24 a quarter note
    assert ticks[0] == 1000 and ticks[-1] < stop
    np.testing.assert_allclose(np.diff(ticks), step, atol=1)
    assert len(ticks) == int(np.ceil((stop - 1000) / step))
    # A window sees exactly its part: split anywhere, the whole is the same.
    halves = (loop_messages(Segment(loop, 1000, stop), 0, 20000)
              + loop_messages(Segment(loop, 1000, stop), 20000, 60000))
    assert halves == messages


class RecordingPort:
    """Stands in for an rtmidi port: what was sent, and when (time.monotonic)."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, list[int]]] = []

    def send_message(self, message: list[int]) -> None:
        self.sent.append((time.monotonic(), list(message)))


def test_notes_and_clock_leave_in_time_with_the_music_and_follow_a_change_of_tempo():
    loops = iter([phrase_loop(120.0, [(60, 0.0, 0.25), (67, 0.5, 0.75), (72, 1.0, 1.5)]),
                  phrase_loop(90.0, [(48, 0.0, 1.0)], program=40)] * 4)
    settings = PlaySettings(loop_seconds=1.0, crossfade_beats=0.0, sample_rate=RATE,
                            block=256)
    player = Player(settings, Paced(NullSink(RATE), lead=0.2), make=lambda: next(loops))
    port = RecordingPort()
    started: list[LoopStarted] = []
    player.subscribe(lambda e: started.append(e) if isinstance(e, LoopStarted) else None)
    MidiOut(port).attach(player)
    player.start()
    time.sleep(4.5)
    player.stop()
    sent = port.sent
    assert sent[0][1] == [START] and sent[-1][1] == [STOP]
    assert [CONTROL | 0, 123, 0] in [m for _, m in sent]  # all notes off at the stop
    # Each note-on left when its frame was heard, to within a few milliseconds.
    clock = player.clock
    due = {}
    for event in started:
        segment = Segment(event.loop, event.frame)
        for frame, message in loop_messages(segment, event.frame, event.frame + event.loop.frames):
            if message[0] & 0xF0 == NOTE_ON:
                due.setdefault(tuple(message), []).append(clock.time_of(frame))
    late = []
    for moment, message in sent:
        if message[0] & 0xF0 == NOTE_ON:
            late.append(min(abs(moment - t) for t in due[tuple(message)]))
    assert len(late) >= 4 and max(late) < 0.010, late
    pitches = [m[1] for _, m in sent if m[0] & 0xF0 == NOTE_ON]
    assert {60, 67, 72, 48} <= set(pitches)  # both loops were heard
    assert [PROGRAM | 0, 40] in [m for _, m in sent]  # the second with its own instrument
    # The clock runs at 24 a quarter note of whichever loop plays: 120 then 90 qpm.
    ticks = np.array([t for t, m in sent if m == [CLOCK]])
    gaps = np.diff(ticks)
    assert np.sum(np.abs(gaps - 60 / 120 / 24) < 0.003) > 20
    assert np.sum(np.abs(gaps - 60 / 90 / 24) < 0.003) > 20


def test_midi_out_on_this_machine_either_opens_a_virtual_port_or_says_why():
    if Path("/dev/snd/seq").exists():
        port = open_port()
        port.send_message([NOTE_ON, 60, 1])
        port.close_port()
        return
    with pytest.raises(ValueError, match="ALSA sequencer"):
        open_port()
    pytest.skip("no ALSA sequencer (/dev/snd/seq) on this machine: the rtmidi port itself "
                "is not exercised; the timing is tested through a recording port above")


def test_play_midi_out_options_fail_in_one_line_where_they_cannot_work(tmp_path):
    from factories import run_cli

    result = run_cli("play", "--no-audio", "--minutes", "0.01")
    assert result.returncode == 1 and "give --midi-out too" in result.stderr
    result = run_cli("play", "--midi-port", "Foo", "--minutes", "0.01", "-o", tmp_path / "x.wav")
    assert result.returncode == 1 and "--midi-port names the port for --midi-out" in result.stderr
    if not Path("/dev/snd/seq").exists():
        result = run_cli("play", "--midi-out", "--minutes", "0.01", "-o", tmp_path / "x.wav")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
        assert "ALSA sequencer" in result.stderr and not (tmp_path / "x.wav").exists()
