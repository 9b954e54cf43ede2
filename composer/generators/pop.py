"""The pop Transformer as a generator: melody, bridge and accompaniment, bar after bar.

Tokens are sampled under REMI's grammar (a position only moves forward within a bar; a pitch is
followed by its velocity and duration), so every phrase decodes to whole notes on the bar grid.
Phrases continue one another: the key/value cache carries over, and the bar line that ends one
phrase is the first token of the next.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from composer.generators import GenerationError
from composer.phrase import Phrase
from models.checkpoint import load_info
from models.sampling import sample_logits

# General MIDI programs per role: a lead that sings over strings and a piano.
DEFAULT_PROGRAMS = (73, 48, 0)  # flute, string ensemble, acoustic grand piano
MAX_TOKENS_PER_BAR = 512  # a bar this long is the model rambling: close it
MELODY, PITCH = 0, 3  # the melody's role (Program_0); the Pitch token kind (Decoder.KINDS)
MAX_INTRO_BARS = 2  # a fresh start's melody enters by the bar after these at the latest


class PopGenerator:
    """Stateful: each phrase continues the last (or a primer), in 4/4 at any tempo."""

    def __init__(self, checkpoint: Path, *, seed: int | None = None, temperature: float = 1.0,
                 top_k: int = 0, programs: tuple[int, int, int] = DEFAULT_PROGRAMS) -> None:
        from models.pop.encoding import Decoder
        from models.pop.litert import step_runtime

        self.info = load_info(checkpoint, ("pop",))
        self.runtime = step_runtime(Path(checkpoint), self.info)
        self.decoder = Decoder(self.info["vocab"])
        self.grammar = Grammar(self.decoder)
        self.temperature = temperature
        self.top_k = top_k
        self.programs = tuple(programs)
        self.rng = np.random.default_rng(seed)
        self.cache = self.runtime.start()
        self.shift = 0  # semitones the primer was moved into the model's key
        self.logits = self._feed([self.grammar.bar])  # a song starts on a bar line
        self.last = self.grammar.bar
        # POP909 songs open with piano intros, and the model's, started afresh, run 0-20 bars:
        # a short one is kept, a long one is cut by bringing the melody in on a downbeat
        self.forced: list[int] = []  # tokens fed next instead of sampled
        self.intro_bars = 0  # bars written before the melody came in

    def _feed(self, ids) -> np.ndarray:
        logits = None
        for i in ids:
            logits = self.runtime.step(np.array([int(i)]), self.cache)
        return logits

    def prime(self, sequence, shift: int = 0, qpm: float | None = None) -> None:
        """Continue a NoteSequence already moved by `shift` into the model's key: its last
        `context` tokens condition the model, and the next phrase starts at its next bar."""
        from models.pop.encoding import RemiEncoding

        ids = RemiEncoding(**self.info["encoding"]).encode(sequence)
        if not len(ids):
            raise GenerationError("the primer has no pitched notes in 4/4 bars")
        self.shift = shift
        self.intro_bars = -1  # the primer's song is under way
        self.logits = self._feed(ids[-self.runtime.context + 1:])
        for i in ids.tolist():
            self.grammar.advance(i)
        self.last = int(ids[-1])
        while self.last != self.grammar.bar:  # finish the primer's last bar unheard
            self._next()

    def _next(self) -> int:
        if self.forced:
            i = self.forced.pop(0)
        else:
            logits = np.where(self.grammar.allowed(self.last), self.logits, -np.inf)
            i = int(sample_logits(logits, self.rng, self.temperature, self.top_k)[0])
        self.grammar.advance(i)
        self.logits = self.runtime.step(np.array([i]), self.cache)
        self.last = i
        if self.intro_bars >= 0:
            if self.grammar.kind[i] == PITCH and self.grammar.role == MELODY:
                self.intro_bars = -1  # the melody is in
            elif i == self.grammar.bar:
                self.intro_bars += 1
                if self.intro_bars >= MAX_INTRO_BARS:
                    self.forced = [self.grammar.downbeat, self.grammar.program[MELODY]]
        return i

    def tokens(self, bars: int) -> tuple[int, list[int]]:
        """The next `bars` bars of tokens, starting with the bar line already fed, and the role
        sounding as they start (a bar may go on with the last role without naming it)."""
        role, out = self.grammar.role, [self.grammar.bar]
        done, in_bar = 0, 0
        while True:
            if in_bar >= MAX_TOKENS_PER_BAR and self.grammar.can_close(self.last):
                self.logits = np.where(np.arange(len(self.logits)) == self.grammar.bar, 0.0,
                                       -np.inf)
            i = self._next()
            in_bar += 1
            if i == self.grammar.bar:
                done, in_bar = done + 1, 0
                if done == bars:
                    return role, out  # this bar line opens the next phrase
            out.append(i)

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        """The next `bars` 4/4 bars at `qpm`, one track per role, in the primer's key."""
        from note_seq import sequences_lib

        role, tokens = self.tokens(bars)
        sequence = self.decoder.sequence([self.grammar.program[role]] + tokens, qpm,
                                         self.programs)
        length = bars * 4 * 60.0 / qpm
        sequence = sequences_lib.trim_note_sequence(sequence, 0.0, length)
        if self.shift:
            from training.transposer import transpose_notesequence

            sequence = transpose_notesequence(sequence, -self.shift)
        return Phrase.make(sequence, qpm, bars)


class Grammar:
    """Which token may come next in REMI, as a boolean mask over the vocabulary."""

    def __init__(self, decoder) -> None:
        kinds = {name: decoder.ids(name) for name in decoder.KINDS}
        self.bar = int(kinds["Bar"][0])
        size = len(decoder.vocab)
        self.position_ids = kinds["Position"]
        self.position_of = np.full(size, -1)
        self.position_of[self.position_ids] = decoder.value[self.position_ids].astype(int)
        self.downbeat = int(np.flatnonzero(self.position_of == 0)[0])
        self.kind = decoder.kind
        mask = {}
        for name, follow in {"Bar": ("Bar", "Position"), "Position": ("Program", "Pitch"),
                             "Program": ("Pitch",), "Pitch": ("Velocity",),
                             "Velocity": ("Duration",),
                             "Duration": ("Pitch", "Program", "Position", "Bar")}.items():
            m = np.zeros(size, dtype=bool)
            for f in follow:
                m[kinds[f]] = True
            mask[decoder.KINDS.index(name)] = m
        self.mask = mask
        self.position = -1
        self.program = {int(decoder.value[i]): int(i) for i in kinds["Program"]}
        self.program_of = np.full(size, -1)
        self.program_of[kinds["Program"]] = decoder.value[kinds["Program"]].astype(int)
        self.role = MELODY  # REMI's first role until a Program token says otherwise

    def can_close(self, last: int) -> bool:
        return self.kind[last] in (0, 5)  # after a bar line or a finished note

    def allowed(self, last: int) -> np.ndarray:
        m = self.mask.get(int(self.kind[last]))
        if m is None:  # a special token: start afresh at a bar line
            m = np.zeros(len(self.kind), dtype=bool)
            m[self.bar] = True
            return m
        if self.kind[last] == 5 or self.kind[last] == 0:  # positions only move forward
            m = m.copy()
            m[self.position_ids[self.position_of[self.position_ids] <= self.position]] = False
        return m

    def advance(self, i: int) -> None:
        if i == self.bar:
            self.position = -1
        elif self.position_of[i] >= 0:
            self.position = int(self.position_of[i])
        elif self.program_of[i] >= 0:
            self.role = int(self.program_of[i])
