"""Train the lead model (models/lead): a melody over chords, from POP909.

    composer train --model lead --corpus POP909_CORPUS -o models/lead

Each song is its melody and chord annotations on the sixteenth grid (models.lead.encoding).
Windows are moved by a random -5..+6 semitones as they stream (chords and melody together):
the corpus is in one key, users' backings are in all twelve, and the model sees chords as
shapes (fixed features), so it learns a melody's relation to the chord, not to C.

Trained only on the songs' own histories, the model's onset odds match the songs' while it
reads theirs, but reading its own draws it sat out long rests (0.41 of its sixteenths against
0.27). With `sampled_history`, a share of the events it reads in training are its own draws
(two-pass scheduled sampling, Mihaylova & Martins 2019): it learns to come back to the song
after a wrong turn instead of following it (rests 0.31). At export the sampler's onset bias
is fitted on the valid songs (training.lead_calibration), so its notes start on the beat as
often as theirs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.datasets import EncodedSplit, encode_split
from training.tasks import LstmTask, _save
from training.trainer import TrainConfig, TrainingError

SHIFTS = tuple(range(-5, 7))


def event_shift_table(encoding) -> np.ndarray:
    """[len(SHIFTS), events]: each melody event moved by each shift (notes fold into range)."""
    from models.lead.encoding import FIRST_NOTE

    return np.array([[e if e < FIRST_NOTE else encoding.note(encoding.pitch(e) + k)
                      for e in range(encoding.events)] for k in SHIFTS], dtype=np.int32)


def lead_dataset(split: EncodedSplit, encoding, steps: int, batch: int, *, seed: int = 0,
                 training: bool = True, max_windows: int | None = None):
    """({"events": last events, "conditions": conditions now}, events now) batches of `steps`
    sixteenths; training windows half-overlap, are shuffled, transposed and repeated forever."""
    from models.lead.chords import shift_table
    from models.lead.encoding import STEPS_PER_BAR
    from training.shards import _tf

    tf = _tf()
    length = 2 * (steps + 1)
    starts = split.window_starts(length, 2 * (steps // 2) if training else 2 * steps)
    if len(starts) == 0:
        raise TrainingError(f"no song is {steps + 1} sixteenths long; use a shorter --seq-len")
    if max_windows and len(starts) > max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, max_windows).astype(np.int64)]
        starts -= starts % 2  # a window starts on a condition token
    tokens = tf.constant(split.tokens.astype(np.int32))
    chord_shift = tf.constant(shift_table())
    event_shift = tf.constant(event_shift_table(encoding))

    def window(i, start):
        chunk = tokens[start:start + length]
        conditions, events = chunk[0::2], chunk[1::2]
        if training:
            k = tf.random.stateless_uniform([], [seed, tf.cast(i, tf.int32)], 0, len(SHIFTS),
                                            dtype=tf.int32)
            chords = tf.gather(chord_shift[(k + SHIFTS[0]) % 12], conditions // STEPS_PER_BAR)
            conditions = chords * STEPS_PER_BAR + conditions % STEPS_PER_BAR
            events = tf.gather(event_shift[k], events)
        return {"events": events[:-1], "conditions": conditions[1:]}, events[1:]

    ds = tf.data.Dataset.from_tensor_slices(starts)
    if training:
        ds = ds.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.enumerate().map(window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def sampled_history(events, logits, rate: float):
    """[batch, time] events read, with each after the first replaced, with probability
    `rate`, by a draw from the logits of the step before (logits[:, t] guess events[:, t+1])."""
    import tensorflow as tf

    drawn = tf.random.categorical(tf.reshape(logits, [-1, tf.shape(logits)[-1]]), 1,
                                  dtype=events.dtype)
    drawn = tf.reshape(drawn, tf.shape(events))
    use = tf.random.uniform(tf.shape(events[:, 1:])) < rate
    return tf.concat([events[:, :1], tf.where(use, drawn[:, :-1], events[:, 1:])], axis=1)


def sampled_history_model(model, rate: float):
    """The lead network, trained on histories where each event it reads (after the first) is
    with probability `rate` the one it drew there itself in a first, gradient-free pass."""
    import keras
    import tensorflow as tf

    class SampledHistory(keras.Model):
        def train_step(self, data):
            x, y = data
            logits = tf.stop_gradient(self(x, training=False))
            x = {**x, "events": sampled_history(x["events"], logits, rate)}
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            self.optimizer.apply(tape.gradient(loss, self.trainable_weights),
                                 self.trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    return SampledHistory(inputs=model.input, outputs=model.output, name=model.name)


class LeadTask(LstmTask):
    """Melody over chords: next-event prediction given the chord and bar position now."""

    name = "lead"

    def __init__(self, units: int = 256, layers: int = 2, embedding: int = 64,
                 dropout: float = 0.2, sampled_history: float = 0.5):
        from models.lead.encoding import LeadEncoding
        from models.lead.network import LeadConfig

        super().__init__()
        self.encoding = LeadEncoding()
        self.network = LeadConfig(self.encoding.events, embedding, units, layers, dropout)
        self.sampled_history = sampled_history

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None:
        self.corpus = corpus
        for split in ("train", "valid"):
            self.splits[split] = encode_split(corpus, split, self.encoding,
                                              workers=config.workers, progress=progress)
            if not self.splits[split].pieces or not len(self.splits[split].tokens):
                raise TrainingError(f"{corpus}: no {split} song has a melody with chord "
                                    "annotations (build the corpus from pop909:DIR)")

    def build(self, config: TrainConfig):
        from models.lead.network import build_model

        model = build_model(self.network)
        if self.sampled_history:
            model = sampled_history_model(model, self.sampled_history)
        return self.compile(model, config)  # the same layer names as lstm's

    def train_data(self, config: TrainConfig):
        return lead_dataset(self.splits["train"], self.encoding, config.seq_len, config.batch,
                            seed=config.seed)

    def valid_data(self, config: TrainConfig):
        return lead_dataset(self.splits["valid"], self.encoding, config.seq_len, config.batch,
                            training=False, max_windows=config.valid_batches * config.batch)

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.lstm.network import weights_of

        train = self.splits["train"]
        counts = {"songs": int(np.sum(np.diff(train.offsets) > 0)),
                  "sixteenths": len(train.tokens) // 2}
        _save(self, out, config, summary, weights_of(model), counts,
              sampled_history=self.sampled_history)
        _calibrate_onsets(out, self.corpus)


def _calibrate_onsets(checkpoint: Path, corpus: Path) -> None:
    """Weigh where the sampler starts notes so they fall where the valid songs' do
    (training.lead_calibration); skipped when no valid song has 16 bars."""
    import sys

    from training.lead_calibration import add_to_checkpoint

    print("fitting where notes start (onset_bias) on the valid songs", file=sys.stderr)
    try:
        add_to_checkpoint(checkpoint, corpus)
    except ValueError as exc:
        print(f"onset_bias not fitted: {exc}", file=sys.stderr)
