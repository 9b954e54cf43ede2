"""The melody VAE in Keras, with MusicVAE's training objective.

With `segments` > 1 the decoder is hierarchical, as in MusicVAE's 16-bar models: a conductor
LSTM, started from z, emits one embedding per segment (bar), and the event decoder plays each
segment from its embedding alone, so long-range structure has to go through the conductor
rather than fade in one long recurrent state.

Encoder: a bidirectional LSTM reads the one-hot window; its two final states give the mean and
(softplus) scale of q(z | x). Decoder: z sets the initial state of a stack of LSTMs and is fed
again at every step beside the previous event. The loss is reconstruction cross-entropy plus
beta * max(KL - free_bits, 0), with beta annealed from 0 towards max_beta (KL annealing; free
bits let the first nats of KL through unpenalised). Scheduled sampling follows the parallel
form (Duckworth et al., 2019): a teacher-forced pass proposes tokens, and each step's input is
replaced by the model's own sample with a probability that rises with training (inverse
sigmoid schedule, as in MusicVAE), so the decoder learns to continue from its own mistakes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class VaeConfig:
    vocab_size: int
    steps: int
    enc_units: int = 256
    dec_units: tuple[int, ...] = (256, 256)
    z_size: int = 128
    free_bits: float = 16.0  # nats of KL per example not penalised
    max_beta: float = 0.2
    beta_rate: float = 0.9999  # beta = max_beta * (1 - beta_rate ** step)
    sampling_rate: float = 1000.0  # inverse-sigmoid schedule; 0 turns scheduled sampling off
    segments: int = 1  # >1: hierarchical decoder, a conductor LSTM emits one embedding a segment
    conductor_units: int = 256

    # the objective's settings, not the network's: a checkpoint fine-tunes under other values
    LOSS_ONLY = ("free_bits", "max_beta", "beta_rate", "sampling_rate")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dec_units"] = list(self.dec_units)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VaeConfig:
        return cls(**{**d, "dec_units": tuple(d["dec_units"])})


def build_model(config: VaeConfig):
    """A built MelodyVae (weights created)."""
    import numpy as np

    model = _model_class()(config)
    model(np.zeros((1, config.steps), dtype="int32"))
    return model


def objective_model():
    """A keras.Model base whose subclasses define `_objective(data, training)` -> (loss, logs)
    and call `track(*names)`: it trains on the loss (test steps: training=False) and reports
    each log as a running mean (both VAEs here)."""
    import keras
    import tensorflow as tf

    class ObjectiveModel(keras.Model):
        def track(self, *names: str) -> None:
            self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def train_step(self, data):
            with tf.GradientTape() as tape:
                loss, logs = self._objective(data, training=True)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return self._track(logs)

        def test_step(self, data):
            _, logs = self._objective(data, training=False)  # z = posterior mean
            return self._track(logs)

        def _track(self, logs):
            for name, value in logs.items():
                self.trackers[name].update_state(value)
            return {name: t.result() for name, t in self.trackers.items()}

    return ObjectiveModel


def _model_class():
    import keras
    import tensorflow as tf

    class MelodyVae(objective_model()):
        def __init__(self, config: VaeConfig, **kwargs):
            super().__init__(name="melody_vae", **kwargs)
            self.config = config
            self.encoder = keras.layers.Bidirectional(
                keras.layers.LSTM(config.enc_units), merge_mode="concat", name="encoder")
            self.to_mu = keras.layers.Dense(config.z_size, name="mu")
            self.to_sigma = keras.layers.Dense(config.z_size, activation="softplus", name="sigma")
            self.to_state = keras.layers.Dense(2 * sum(config.dec_units), activation="tanh",
                                               name="initial_state")
            if config.segments > 1:
                self.conductor_state = keras.layers.Dense(2 * config.conductor_units,
                                                          activation="tanh",
                                                          name="conductor_state")
                self.conductor = keras.layers.LSTM(config.conductor_units,
                                                   return_sequences=True, name="conductor")
            self.decoders = [keras.layers.LSTM(u, return_sequences=True, name=f"decoder_{i}")
                             for i, u in enumerate(config.dec_units)]
            self.logits = keras.layers.Dense(config.vocab_size, name="logits")
            self.track("loss", "recon", "kl", "beta", "accuracy", "sampling_probability")

        def encode(self, ids):
            h = self.encoder(tf.one_hot(ids, self.config.vocab_size))
            return self.to_mu(h), self.to_sigma(h) + 1e-6

        def _play(self, previous_onehot, context):
            """The event decoder: logits for a run of steps from its context vector."""
            steps = tf.shape(previous_onehot)[1]
            c_seq = tf.repeat(context[:, None, :], steps, axis=1)
            x = tf.concat([previous_onehot, c_seq], axis=-1)
            states = tf.split(self.to_state(context),
                              [u for u in self.config.dec_units for _ in (0, 1)], axis=-1)
            for i, layer in enumerate(self.decoders):
                x = layer(x, initial_state=[states[2 * i], states[2 * i + 1]])
            return self.logits(x)

        def decode(self, previous_onehot, z):
            """Logits for every step given the previous events (one-hot) and z."""
            cfg = self.config
            if cfg.segments == 1:
                return self._play(previous_onehot, z)
            batch, length = tf.shape(z)[0], cfg.steps // cfg.segments
            h, c = tf.split(self.conductor_state(z), 2, axis=-1)
            plan = self.conductor(tf.zeros([batch, cfg.segments, 1]), initial_state=[h, c])
            plan = tf.reshape(plan, [-1, cfg.conductor_units])  # [batch * segments, units]
            previous = tf.reshape(previous_onehot, [-1, length, cfg.vocab_size])
            logits = self._play(previous, plan)
            return tf.reshape(logits, [batch, cfg.steps, cfg.vocab_size])

        def call(self, ids, training=False):
            mu, _ = self.encode(ids)
            return self.decode(_shift_right(tf.one_hot(ids, self.config.vocab_size)), mu)

        def _objective(self, ids, training: bool):
            cfg = self.config
            ids = tf.cast(ids, tf.int32)
            mu, sigma = self.encode(ids)
            z = mu + sigma * tf.random.normal(tf.shape(mu)) if training else mu
            target = tf.one_hot(ids, cfg.vocab_size)
            teacher = _shift_right(target)
            step = tf.cast(self.optimizer.iterations, tf.float32)
            p_sample = tf.constant(0.0)
            if training and cfg.sampling_rate > 0:
                k = cfg.sampling_rate
                p_sample = 1.0 - k / (k + tf.exp(tf.minimum(step / k, 50.0)))
                proposal = tf.stop_gradient(self.decode(teacher, z))
                sampled = tf.random.categorical(tf.reshape(proposal, [-1, cfg.vocab_size]), 1)
                sampled = tf.one_hot(tf.reshape(sampled, tf.shape(ids)), cfg.vocab_size)
                use = tf.random.uniform(tf.shape(ids)) < p_sample
                mixed = tf.where(use[..., None], sampled, target)
                logits = self.decode(_shift_right(mixed), z)
            else:
                logits = self.decode(teacher, z)
            recon = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(target, logits), -1)
            kl = tf.reduce_sum(-tf.math.log(sigma) + 0.5 * (sigma ** 2 + mu ** 2) - 0.5, -1)
            beta = cfg.max_beta * (1.0 - tf.pow(cfg.beta_rate, step))  # valid: the same beta
            kl_cost = tf.maximum(kl - cfg.free_bits, 0.0)
            loss = tf.reduce_mean(recon + beta * kl_cost)
            accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                       ids), tf.float32))
            return loss, {"loss": loss, "recon": tf.reduce_mean(recon), "kl": tf.reduce_mean(kl),
                          "beta": beta, "accuracy": accuracy, "sampling_probability": p_sample}

    return MelodyVae


def _shift_right(onehot):
    """Previous-step inputs: a zero vector first, then the events up to the last but one."""
    import tensorflow as tf

    return tf.pad(onehot[:, :-1], [[0, 0], [1, 0], [0, 0]])


def weights_of(model) -> dict:
    """Named weights for the NumPy runtime."""
    forward, backward = model.encoder.forward_layer, model.encoder.backward_layer
    out = {}
    for name, layer in (("encoder_fw", forward), ("encoder_bw", backward)):
        out[f"{name}/kernel"], out[f"{name}/recurrent"], out[f"{name}/bias"] = layer.get_weights()
    for name, layer in (("mu", model.to_mu), ("sigma", model.to_sigma),
                        ("initial_state", model.to_state), ("logits", model.logits)):
        out[f"{name}/kernel"], out[f"{name}/bias"] = layer.get_weights()
    for i, layer in enumerate(model.decoders):
        (out[f"decoder_{i}/kernel"], out[f"decoder_{i}/recurrent"],
         out[f"decoder_{i}/bias"]) = layer.get_weights()
    if model.config.segments > 1:
        out["conductor_state/kernel"], out["conductor_state/bias"] = \
            model.conductor_state.get_weights()
        (out["conductor/kernel"], out["conductor/recurrent"],
         out["conductor/bias"]) = model.conductor.get_weights()
    return out


def load_weights(model, weights: dict) -> None:
    forward, backward = model.encoder.forward_layer, model.encoder.backward_layer
    for name, layer in (("encoder_fw", forward), ("encoder_bw", backward)):
        layer.set_weights([weights[f"{name}/{k}"] for k in ("kernel", "recurrent", "bias")])
    for name, layer in (("mu", model.to_mu), ("sigma", model.to_sigma),
                        ("initial_state", model.to_state), ("logits", model.logits)):
        layer.set_weights([weights[f"{name}/kernel"], weights[f"{name}/bias"]])
    for i, layer in enumerate(model.decoders):
        layer.set_weights([weights[f"decoder_{i}/{k}"] for k in ("kernel", "recurrent", "bias")])
    if model.config.segments > 1:
        model.conductor_state.set_weights([weights["conductor_state/kernel"],
                                           weights["conductor_state/bias"]])
        model.conductor.set_weights([weights[f"conductor/{k}"]
                                     for k in ("kernel", "recurrent", "bias")])
