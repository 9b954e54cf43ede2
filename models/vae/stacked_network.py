"""The top of the stacked 16-bar VAE in Keras: a VAE over a sequence of 2-bar latents.

Its input is what the frozen 2-bar model (the bottom) makes of each segment of a melody, the
posterior mean and scale of every segment. A bidirectional LSTM reads the means into
q(z | segments); a conductor LSTM started from z emits one latent per segment. The loss is
the KL divergence from each segment's bottom posterior N(mu, sigma) to the point the
conductor emits, 0.5 * ((emitted - mu) / sigma)^2 summed, so an error counts as much as it
would move the bottom's decoding (a dimension the bottom does not use, sigma ~1, costs
little; sigma is floored at `scale_floor`), plus MusicVAE's beta * max(KL - free_bits, 0) on z.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class StackedConfig:
    bottom: dict = field(default_factory=dict)  # the bottom's VaeConfig, as its model.json has it
    segments: int = 8
    enc_units: int = 128
    dec_units: int = 256
    z_size: int = 256
    free_bits: float = 512.0
    max_beta: float = 0.2
    beta_rate: float = 0.9999
    # bottom scales below this count as this: the bottom decodes the same within 0.05 of its
    # means (held-out pop windows, 0.944 teacher-forced either way), so finer is wasted effort
    scale_floor: float = 0.05

    LOSS_ONLY = ("free_bits", "max_beta", "beta_rate", "scale_floor")

    @property
    def bottom_z(self) -> int:
        return self.bottom["z_size"]

    def to_dict(self) -> dict:
        # vocab and steps of the whole window, for readers that only want those
        return {**asdict(self), "vocab_size": self.bottom["vocab_size"],
                "steps": self.bottom["steps"] * self.segments}

    @classmethod
    def from_dict(cls, d: dict) -> StackedConfig:
        return cls(**{k: v for k, v in d.items() if k not in ("vocab_size", "steps")})


def build_model(config: StackedConfig):
    """A built LatentSequenceVae (weights created)."""
    import numpy as np

    model = _model_class()(config)
    model(np.zeros((1, config.segments, 2 * config.bottom_z), dtype="float32"))
    return model


def _model_class():
    import keras
    import tensorflow as tf

    from models.vae.network import objective_model

    class LatentSequenceVae(objective_model()):
        """Input: [batch, segments, 2 * bottom z], each segment's bottom mean then scale."""

        def __init__(self, config: StackedConfig, **kwargs):
            super().__init__(name="latent_sequence_vae", **kwargs)
            self.config = config
            self.encoder = keras.layers.Bidirectional(
                keras.layers.LSTM(config.enc_units), merge_mode="concat", name="encoder")
            self.to_mu = keras.layers.Dense(config.z_size, name="mu")
            self.to_sigma = keras.layers.Dense(config.z_size, activation="softplus", name="sigma")
            self.to_state = keras.layers.Dense(2 * config.dec_units, activation="tanh",
                                               name="initial_state")
            self.conductor = keras.layers.LSTM(config.dec_units, return_sequences=True,
                                               name="conductor")
            self.to_latent = keras.layers.Dense(config.bottom_z, name="latent")
            self.track("loss", "recon", "kl", "beta")

        def encode(self, means):
            h = self.encoder(means)
            return self.to_mu(h), self.to_sigma(h) + 1e-6

        def decode(self, z):
            h, c = tf.split(self.to_state(z), 2, axis=-1)
            steps = tf.zeros([tf.shape(z)[0], self.config.segments, 1])
            return self.to_latent(self.conductor(steps, initial_state=[h, c]))

        def call(self, x, training=False):
            mu, _ = self.encode(x[..., :self.config.bottom_z])
            return self.decode(mu)

        def _objective(self, x, training: bool):
            cfg = self.config
            means = x[..., :cfg.bottom_z]
            scales = tf.maximum(x[..., cfg.bottom_z:], cfg.scale_floor)
            mu, sigma = self.encode(means)
            z = mu + sigma * tf.random.normal(tf.shape(mu)) if training else mu
            plan = self.decode(z)
            recon = 0.5 * tf.reduce_sum(tf.square((plan - means) / scales), axis=[1, 2])
            kl = tf.reduce_sum(-tf.math.log(sigma) + 0.5 * (sigma ** 2 + mu ** 2) - 0.5, -1)
            step = tf.cast(self.optimizer.iterations, tf.float32)
            beta = cfg.max_beta * (1.0 - tf.pow(cfg.beta_rate, step))
            loss = tf.reduce_mean(recon + beta * tf.maximum(kl - cfg.free_bits, 0.0))
            return loss, {"loss": loss, "recon": tf.reduce_mean(recon),
                          "kl": tf.reduce_mean(kl), "beta": beta}

    return LatentSequenceVae


_LAYERS = (("mu", "to_mu"), ("sigma", "to_sigma"), ("initial_state", "to_state"),
           ("latent", "to_latent"))


def weights_of(model) -> dict:
    """Named weights for the NumPy runtime (models.vae.stacked)."""
    out = {}
    for name, layer in (("encoder_fw", model.encoder.forward_layer),
                        ("encoder_bw", model.encoder.backward_layer),
                        ("conductor", model.conductor)):
        out[f"{name}/kernel"], out[f"{name}/recurrent"], out[f"{name}/bias"] = layer.get_weights()
    for name, attr in _LAYERS:
        out[f"{name}/kernel"], out[f"{name}/bias"] = getattr(model, attr).get_weights()
    return out


def load_weights(model, weights: dict) -> None:
    for name, layer in (("encoder_fw", model.encoder.forward_layer),
                        ("encoder_bw", model.encoder.backward_layer),
                        ("conductor", model.conductor)):
        layer.set_weights([weights[f"{name}/{k}"] for k in ("kernel", "recurrent", "bias")])
    for name, attr in _LAYERS:
        getattr(model, attr).set_weights([weights[f"{name}/kernel"], weights[f"{name}/bias"]])
