"""The performance LSTM as a Keras model: embedding, stacked LSTMs, logits over events."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LstmConfig:
    vocab_size: int
    embedding: int = 128
    units: int = 256
    layers: int = 2
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def build_model(config: LstmConfig):
    """Next-event logits for every position of an int32 [batch, time] event sequence."""
    import keras

    inputs = keras.Input(shape=(None,), dtype="int32", name="events")
    x = keras.layers.Embedding(config.vocab_size, config.embedding, name="embedding")(inputs)
    for i in range(config.layers):
        x = keras.layers.LSTM(config.units, return_sequences=True, dropout=config.dropout,
                              name=f"lstm_{i}")(x)
    logits = keras.layers.Dense(config.vocab_size, name="logits")(x)
    return keras.Model(inputs, logits, name="performance_lstm")


def weights_of(model) -> dict[str, np.ndarray]:  # noqa: F821 - numpy only at runtime
    """Named weights for the NumPy runtime: embedding, lstm_i/{kernel,recurrent,bias}, logits."""
    out = {"embedding": model.get_layer("embedding").get_weights()[0]}
    i = 0
    while True:
        try:
            layer = model.get_layer(f"lstm_{i}")
        except ValueError:
            break
        kernel, recurrent, bias = layer.get_weights()
        out.update({f"lstm_{i}/kernel": kernel, f"lstm_{i}/recurrent": recurrent,
                    f"lstm_{i}/bias": bias})
        i += 1
    out["logits/kernel"], out["logits/bias"] = model.get_layer("logits").get_weights()
    return out


def load_weights(model, weights: dict) -> None:
    """The inverse of weights_of, to resume or fine-tune from a shipped checkpoint."""
    model.get_layer("embedding").set_weights([weights["embedding"]])
    i = 0
    while f"lstm_{i}/kernel" in weights:
        model.get_layer(f"lstm_{i}").set_weights(
            [weights[f"lstm_{i}/kernel"], weights[f"lstm_{i}/recurrent"], weights[f"lstm_{i}/bias"]])
        i += 1
    model.get_layer("logits").set_weights([weights["logits/kernel"], weights["logits/bias"]])
