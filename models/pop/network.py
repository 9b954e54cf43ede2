"""The pop model: a small decoder-only Transformer over REMI tokens, in Keras.

GPT-2's block (pre-norm, causal self-attention, a GELU feed-forward), with rotary position
embeddings (RoPE) instead of learned positions: attention then depends only on how far apart two
tokens are, so generation can slide a window of cached keys past the training length without
the positions going out of range. Weights are exported by name for models/pop/runtime.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PopConfig:
    vocab_size: int
    dim: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 1024
    dropout: float = 0.1
    context: int = 512  # tokens the model attends to (its training window)

    def to_dict(self) -> dict:
        return asdict(self)


def _block_class():
    import keras
    from keras import ops

    class Block(keras.layers.Layer):
        def __init__(self, dim, heads, ff, dropout, **kwargs):
            super().__init__(**kwargs)
            self.dim, self.heads, self.head_dim = dim, heads, dim // heads
            self.ln1 = keras.layers.LayerNormalization(epsilon=1e-5, name="ln1")
            self.qkv = keras.layers.Dense(3 * dim, name="qkv")
            self.proj = keras.layers.Dense(dim, name="proj")
            self.ln2 = keras.layers.LayerNormalization(epsilon=1e-5, name="ln2")
            self.ff1 = keras.layers.Dense(ff, name="ff1")
            self.ff2 = keras.layers.Dense(dim, name="ff2")
            self.drop = keras.layers.Dropout(dropout)

        def build(self, input_shape):
            self.ln1.build(input_shape)
            self.qkv.build(input_shape)
            self.proj.build(input_shape)
            self.ln2.build(input_shape)
            self.ff1.build(input_shape)
            self.ff2.build((*input_shape[:-1], self.ff1.units))

        def _rotate(self, x, cos, sin):
            half = self.head_dim // 2
            x1, x2 = x[..., :half], x[..., half:]
            return ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)

        def call(self, x, training=None):
            t = ops.shape(x)[1]
            qkv = self.qkv(self.ln1(x))
            qkv = ops.reshape(qkv, (-1, t, 3, self.heads, self.head_dim))
            qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # [3, batch, heads, time, head_dim]
            q, k, v = qkv[0], qkv[1], qkv[2]
            inv = 1.0 / (10000.0 ** (ops.arange(0, self.head_dim, 2, dtype="float32")
                                     / self.head_dim))
            angles = ops.cast(ops.arange(t), "float32")[:, None] * inv[None, :]
            cos, sin = ops.cos(angles), ops.sin(angles)
            q, k = self._rotate(q, cos, sin), self._rotate(k, cos, sin)
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / (self.head_dim ** 0.5)
            causal = ops.tril(ops.ones((t, t), dtype="bool"))
            scores = ops.where(causal, scores, -1e9)
            attention = ops.softmax(scores, axis=-1)
            y = ops.matmul(self.drop(attention, training=training), v)
            y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (-1, t, self.dim))
            x = x + self.drop(self.proj(y), training=training)
            h = keras.activations.gelu(self.ff1(self.ln2(x)), approximate=True)
            return x + self.drop(self.ff2(h), training=training)

    return Block


def build_model(config: PopConfig):
    """Next-token logits for every position of an int32 [batch, time] token sequence."""
    import keras

    block = _block_class()
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(config.vocab_size, config.dim, name="embedding")(inputs)
    x = keras.layers.Dropout(config.dropout)(x)
    for i in range(config.layers):
        x = block(config.dim, config.heads, config.ff, config.dropout, name=f"block_{i}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="ln_f")(x)
    logits = keras.layers.Dense(config.vocab_size, name="logits")(x)
    return keras.Model(inputs, logits, name="pop_transformer")


_SUBLAYERS = {"ln1": ("gamma", "beta"), "qkv": ("kernel", "bias"), "proj": ("kernel", "bias"),
              "ln2": ("gamma", "beta"), "ff1": ("kernel", "bias"), "ff2": ("kernel", "bias")}


def weights_of(model) -> dict:
    """Named weights for the NumPy runtime: embedding, block_i/<sublayer>/<w>, ln_f, logits."""
    out = {"embedding": model.get_layer("embedding").get_weights()[0]}
    i = 0
    while any(layer.name == f"block_{i}" for layer in model.layers):
        block = model.get_layer(f"block_{i}")
        for sub, names in _SUBLAYERS.items():
            for name, value in zip(names, getattr(block, sub).get_weights()):
                out[f"block_{i}/{sub}/{name}"] = value
        i += 1
    out["ln_f/gamma"], out["ln_f/beta"] = model.get_layer("ln_f").get_weights()
    out["logits/kernel"], out["logits/bias"] = model.get_layer("logits").get_weights()
    return out


def load_weights(model, weights: dict) -> None:
    """The inverse of weights_of, to resume or fine-tune from a shipped checkpoint."""
    model.get_layer("embedding").set_weights([weights["embedding"]])
    i = 0
    while f"block_{i}/qkv/kernel" in weights:
        block = model.get_layer(f"block_{i}")
        for sub, names in _SUBLAYERS.items():
            getattr(block, sub).set_weights([weights[f"block_{i}/{sub}/{n}"] for n in names])
        i += 1
    model.get_layer("ln_f").set_weights([weights["ln_f/gamma"], weights["ln_f/beta"]])
    model.get_layer("logits").set_weights([weights["logits/kernel"], weights["logits/bias"]])
