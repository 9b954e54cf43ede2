"""The lead model in Keras: the last melody event and the chord and bar position now, through
stacked LSTMs, to logits over the melody event now (Magenta's Improv RNN, with fixed chord
features instead of a learned chord embedding)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from models.lead.encoding import STEPS_PER_BAR


@dataclass(frozen=True)
class LeadConfig:
    events: int  # melody event vocabulary (LeadEncoding.events)
    embedding: int = 64
    units: int = 256
    layers: int = 2
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


def condition_features(conditions):
    """[batch, time] condition ids -> [batch, time, 25 + 16]: the chord's fixed features
    (root, pitch classes, no-chord) and the sixteenth's bar position, one-hot."""
    import keras
    from keras import ops

    from models.lead.chords import chord_table

    table = ops.convert_to_tensor(chord_table())
    chords = ops.take(table, conditions // STEPS_PER_BAR, axis=0)
    positions = ops.one_hot(conditions % STEPS_PER_BAR, STEPS_PER_BAR)
    return ops.concatenate([chords, ops.cast(positions, keras.backend.floatx())], axis=-1)


def build_model(config: LeadConfig):
    import keras

    events = keras.Input(shape=(None,), dtype="int32", name="events")
    conditions = keras.Input(shape=(None,), dtype="int32", name="conditions")
    x = keras.layers.Embedding(config.events, config.embedding, name="embedding")(events)
    c = keras.layers.Lambda(condition_features, output_shape=(None, 25 + STEPS_PER_BAR),
                            name="condition")(conditions)
    x = keras.layers.Concatenate()([x, c])
    for i in range(config.layers):
        x = keras.layers.LSTM(config.units, return_sequences=True, dropout=config.dropout,
                              name=f"lstm_{i}")(x)
    logits = keras.layers.Dense(config.events, name="logits")(x)
    return keras.Model({"events": events, "conditions": conditions}, logits, name="lead_lstm")
