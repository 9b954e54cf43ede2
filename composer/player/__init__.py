"""The continuous player: a producer keeps loops ready (a loop maker's stages), a stream
plays each loop for a while and crossfades to the next on a bar line, a sink takes the audio,
and listeners hear what happens (events).

    settings = PlaySettings(model="lstm", qpm=120)
    with Player(settings, open_sink("out.wav")) as player:
        player.subscribe(print)         # LoopStarted, CrossfadeStarted, ...
        player.run(seconds=60)          # offline: exactly 60 s, at full speed

Extension points: a Sink (sinks.py, made by open_sink), a LoopMaker (makers.py, registered
in MAKERS), a listener of events (events.py; midi_out.py is one).
"""

from composer.player.events import (
    CrossfadeStarted,
    EventBus,
    LoopSaved,
    LoopStarted,
    OutputClock,
    PlayerError,
    StateChanged,
)
from composer.player.makers import MAKERS, LoopMaker, MidiLoopMaker
from composer.player.player import Player, Status
from composer.player.settings import PlaySettings, parse_setting
from composer.player.sinks import (
    FileSink,
    NoAudioDevice,
    NullSink,
    Paced,
    Sink,
    SpeakerSink,
    open_sink,
)
from composer.player.stream import Stream

__all__ = [
    "MAKERS",
    "CrossfadeStarted",
    "EventBus",
    "FileSink",
    "LoopMaker",
    "LoopSaved",
    "LoopStarted",
    "MidiLoopMaker",
    "NoAudioDevice",
    "NullSink",
    "OutputClock",
    "Paced",
    "PlaySettings",
    "Player",
    "PlayerError",
    "Sink",
    "SpeakerSink",
    "StateChanged",
    "Status",
    "Stream",
    "open_sink",
    "parse_setting",
]
