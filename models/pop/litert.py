"""The pop Transformer's decoding step as a LiteRT flatbuffer with int8 weights.

Why: a step multiplies one token by every weight, so its cost is reading the weights. In
float32 that is 12.6 MB per token, about 1.2 ms on these cores in NumPy; with int8 weights
(dynamic-range quantization: weights stored as int8 per output channel, activations in float32)
LiteRT's XNNPACK kernels read a quarter of it, and the whole step, attention included, is one
interpreter call of about 0.4 ms.

The flatbuffer is built from the NumPy runtime's folded arrays (models/pop/runtime.py), so
both compute the same step. The key/value cache is not inside the graph: it is the step's
input tensors, which this runtime writes in place through LiteRT's buffer views (no copy per
token), and the graph returns the new token's keys and values with the logits. Tests check
the logits against the NumPy runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.pop.runtime import PopRuntime
from models.stderr import quiet_stderr

STEP_FILE = "step.tflite"
MASKED = -1e30  # an attention bias that removes a cache slot


def to_litert(runtime: PopRuntime, *, quantize: bool = True) -> bytes:
    """The step of `runtime` as a flatbuffer: (token [1], cos, sin [half], bias [1, context],
    keys [heads, context, head_dim] per block, values [heads, head_dim, context] per block)
    -> logits, then each block's new key and value, flattened into one float vector."""
    with quiet_stderr():  # CUDA probing and oneDNN notices at import
        import tensorflow as tf

    heads, head_dim, context, dim = runtime.heads, runtime.head_dim, runtime.context, runtime.dim
    layers, half = len(runtime.blocks), runtime.head_dim // 2

    def normalized(x):
        centered = x - tf.reduce_mean(x, -1, keepdims=True)
        return centered * tf.math.rsqrt(tf.reduce_mean(centered * centered, -1, keepdims=True)
                                        + 1e-5)

    def rotated(t, cos, sin):  # a head's rotary pairs are interleaved (see PopRuntime)
        t = tf.reshape(t, [heads, half, 2])
        a, b = t[..., 0], t[..., 1]
        return tf.reshape(tf.stack([a * cos - b * sin, a * sin + b * cos], -1),
                          [heads, 1, head_dim])

    spec = [tf.TensorSpec([1], tf.int32), tf.TensorSpec([half], tf.float32),
            tf.TensorSpec([half], tf.float32), tf.TensorSpec([1, context], tf.float32)]
    spec += [tf.TensorSpec([heads, context, head_dim], tf.float32)] * layers
    spec += [tf.TensorSpec([heads, head_dim, context], tf.float32)] * layers

    @tf.function(input_signature=spec)
    def step(token, cos, sin, bias, *cache):
        keys, values = cache[:layers], cache[layers:]
        x = tf.gather(runtime.embedding, token)
        new = []
        for layer, (qkv_w, qkv_b, proj_w, proj_b, ff1_w, ff1_b, ff2_w, ff2_b) in enumerate(
                runtime.blocks):
            qkv = tf.matmul(normalized(x), qkv_w) + qkv_b
            q, k = rotated(qkv[0, :dim], cos, sin), rotated(qkv[0, dim:2 * dim], cos, sin)
            v = tf.reshape(qkv[0, 2 * dim:], [heads, head_dim])
            # the cached tokens and this one: elementwise products and sums, which XNNPACK
            # runs faster here than a batched matmul against a non-constant operand
            scores = tf.concat([tf.reduce_sum(keys[layer] * q, -1) + bias,
                                tf.reduce_sum(q * k, -1)], -1)  # [heads, context + 1]
            p = tf.nn.softmax(scores, -1)
            y = (tf.reduce_sum(values[layer] * tf.reshape(p[:, :context], [heads, 1, context]),
                               -1) + p[:, context:] * v)
            x = x + tf.matmul(tf.reshape(y, [1, dim]), proj_w) + proj_b
            u = tf.matmul(normalized(x), ff1_w) + ff1_b
            x = x + tf.matmul(u * (1.0 + tf.tanh(u * (0.7978845608 + 0.0356774081 * u * u))),
                              ff2_w) + ff2_b
            new += [tf.reshape(k, [-1]), tf.reshape(v, [-1])]
        logits = tf.matmul(normalized(x), runtime.out_kernel) + runtime.out_bias
        return tf.concat([tf.reshape(logits, [-1])] + new, 0)

    with quiet_stderr():  # the converter narrates its passes on fd 2
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [step.get_concrete_function()])
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()


def step_runtime(checkpoint: Path, info: dict):
    """What generates from a checkpoint: its LiteRT step when it has one (step.tflite), else
    the NumPy runtime of its weights (only then are they read)."""
    from models.checkpoint import load_checkpoint

    flatbuffer = Path(checkpoint) / STEP_FILE
    if flatbuffer.exists():
        return PopLite(flatbuffer.read_bytes())
    _, weights = load_checkpoint(checkpoint)
    return PopRuntime(weights, info["network"]["heads"], info["network"]["context"])


class LiteCache:
    """Where a stream stands; its keys and values live in the interpreter's input tensors,
    so a PopLite runs one stream at a time (start() begins a new one)."""

    def __init__(self, context: int):
        self.context = context
        self.position = 0


class PopLite:
    """PopRuntime's interface (start, step, run) over the flatbuffer of to_litert."""

    name = "litert"  # what eval reports scoring through

    def __init__(self, flatbuffer: bytes):
        from ai_edge_litert.interpreter import Interpreter

        with quiet_stderr():  # LiteRT announces its CPU delegate on fd 2
            self.interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
            self.interpreter.allocate_tensors()
        inputs = sorted(self.interpreter.get_input_details(), key=lambda d: d["index"])
        self._token, self._cos, self._sin, bias = (d["index"] for d in inputs[:4])
        self._bias = self.interpreter.tensor(bias)
        layers = (len(inputs) - 4) // 2
        self._keys = [self.interpreter.tensor(d["index"]) for d in inputs[4:4 + layers]]
        self._values = [self.interpreter.tensor(d["index"]) for d in inputs[4 + layers:]]
        self.heads, self.context, self.head_dim = (int(n) for n in inputs[4]["shape"])
        self.inv_freq = 1.0 / 10000.0 ** (np.arange(0, self.head_dim, 2) / self.head_dim)
        self._output = self.interpreter.get_output_details()[0]["index"]
        size = int(self.interpreter.get_output_details()[0]["shape"][0])
        self.vocab_size = size - 2 * layers * self.heads * self.head_dim
        self._cache: LiteCache | None = None

    def start(self, batch: int = 1) -> LiteCache:
        if batch != 1:
            raise ValueError("the LiteRT pop runtime runs one stream at a time")
        self._bias()[:] = MASKED
        for tensor in self._keys + self._values:
            tensor()[:] = 0.0
        self._cache = LiteCache(self.context)
        return self._cache

    def step(self, ids: np.ndarray, cache: LiteCache) -> np.ndarray:
        """Feed one token ([1] id); returns next-token logits [1, vocab]."""
        if cache is not self._cache:
            raise ValueError("this cache is not the stream the runtime holds (start() again)")
        slot = cache.position % self.context  # a ring buffer once the window is full
        angles = cache.position * self.inv_freq  # float64: exact for endless streams
        self._bias()[0, slot] = MASKED  # the token it held leaves the window
        it = self.interpreter
        it.set_tensor(self._token, np.asarray(ids, np.int32).reshape(1))
        it.set_tensor(self._cos, np.cos(angles).astype(np.float32))
        it.set_tensor(self._sin, np.sin(angles).astype(np.float32))
        it.invoke()
        out = it.get_tensor(self._output)
        new = out[self.vocab_size:].reshape(len(self._keys), 2, self.heads, self.head_dim)
        for keys, values, (k, v) in zip(self._keys, self._values, new):
            keys()[:, slot] = k
            values()[:, :, slot] = v
        self._bias()[0, slot] = 0.0
        cache.position += 1
        return out[None, :self.vocab_size].copy()

    def run(self, ids: np.ndarray, cache: LiteCache | None = None):
        """Feed [batch, time] ids, stream by stream; returns logits [batch, time, vocab] and
        the last stream's cache."""
        ids = np.atleast_2d(ids)
        rows = []
        for row in ids:
            cache = self.start() if cache is None or len(ids) > 1 else cache
            rows.append(np.concatenate([self.step(row[t:t + 1], cache)
                                        for t in range(len(row))]))
        return np.stack(rows), cache
