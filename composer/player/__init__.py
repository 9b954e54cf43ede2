"""The continuous player: a producer keeps loops ready (generate -> render -> loop), a stream
plays each loop for a while and crossfades to the next on a bar line, a sink takes the audio.

    settings = PlaySettings(model="lstm", qpm=120)
    with Player(settings, FileSink("out.wav")) as player:
        player.run(seconds=60)          # offline: exactly 60 s, at full speed

The state lives here (the synth, the queue, the playhead); everything it calls is a function.
"""

from composer.player.player import Player, PlaySettings, Status
from composer.player.sinks import (
           FileSink,
           NoAudioDevice,
           NullSink,
           SpeakerSink,
           open_sink,
)
from composer.player.stream import Stream

__all__ = [
           "FileSink",
           "NoAudioDevice",
           "NullSink",
           "PlaySettings",
           "Player",
           "SpeakerSink",
           "Status",
           "Stream",
           "open_sink",
]
