"""Generator and critic over phrase piano rolls, trained as a WGAN-GP (as MuseGAN is).

Generator: z -> dense -> transposed convolutions up the time and pitch axes -> a sigmoid roll
[time, pitch, track] (the tracks are channels, so the voices are generated together and hear
each other, MuseGAN's "composer" model). Critic: strided convolutions -> one score, no
normalisation (the gradient penalty needs per-sample gradients). With `critic_streams` the
critic also reads two features of the roll through small convolutions of their own, as
MuseGAN's proposed discriminator does: how much each voice changes from step to step, and the
pitch classes beat by beat. Each step updates the critic `critic_steps` times, then the
generator once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GanConfig:
    steps: int  # time steps per phrase (must divide by 16)
    pitches: int  # must divide by 8
    tracks: int
    z_size: int = 128
    width: int = 48  # channels of the generator's first feature map; the critic mirrors it
    critic_steps: int = 5
    gradient_penalty: float = 10.0
    critic_streams: bool = False  # the critic also hears note changes and pitch classes

    # settings that shape only the critic: a generator trained under others can be fine-tuned
    # with a fresh critic under these (`composer train --init-from`)
    CRITIC_ONLY = ("critic_steps", "gradient_penalty", "critic_streams")

    def to_dict(self) -> dict:
        return asdict(self)


def build_generator(config: GanConfig):
    import keras
    from keras import layers

    t0, p0, w = config.steps // 16, config.pitches // 8, config.width
    z = keras.Input(shape=(config.z_size,), name="z")
    x = layers.Dense(t0 * p0 * w * 4, name="project")(z)
    x = layers.Reshape((t0, p0, w * 4))(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for i, (channels, stride) in enumerate([(w * 2, (2, 2)), (w, (2, 2)), (w // 2, (2, 2)),
                                            (w // 2, (2, 1))]):
        x = layers.Conv2DTranspose(channels, (4, 4), strides=stride, padding="same",
                                   name=f"up_{i}")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    roll = layers.Conv2D(config.tracks, (3, 3), padding="same", activation="sigmoid",
                         name="roll")(x)
    return keras.Model(z, roll, name="generator")


def build_critic(config: GanConfig):
    import keras
    from keras import layers, ops

    w = config.width
    roll = keras.Input(shape=(config.steps, config.pitches, config.tracks), name="roll")
    x = roll
    for i, (channels, stride) in enumerate([(w // 2, (2, 1)), (w, (2, 2)), (w * 2, (2, 2)),
                                            (w * 4, (2, 2))]):
        x = layers.Conv2D(channels, (4, 4), strides=stride, padding="same", name=f"down_{i}")(x)
        x = layers.LeakyReLU(0.2)(x)
    features = [layers.Flatten()(x)]
    if config.critic_streams:
        # How much each voice changes from one step to the next: a voice that flickers
        # between pitches or in and out of silence changes every step, a sung line every
        # note. Small in a roll's pixels, obvious here.
        before = layers.ZeroPadding2D(((1, 0), (0, 0)))(roll)[:, :-1]
        change = ops.sum(ops.abs(roll - before), axis=2)  # [batch, time, track]
        for i in range(2):
            change = layers.Conv1D(w, 4, strides=2, padding="same", name=f"change_{i}")(change)
            change = layers.LeakyReLU(0.2)(change)
        features.append(layers.Flatten()(change))
        # Pitch classes beat by beat, whatever the octave (MuseGAN's chroma stream).
        chroma = ops.sum(ops.reshape(roll, (-1, config.steps, config.pitches // 12, 12,
                                            config.tracks)), axis=2)
        chroma = layers.Conv2D(w // 2, (4, 12), strides=(4, 1), name="chroma")(chroma)
        features.append(layers.Flatten()(layers.LeakyReLU(0.2)(chroma)))
    x = features[0] if len(features) == 1 else layers.Concatenate()(features)
    score = layers.Dense(1, name="score")(x)
    return keras.Model(roll, score, name="critic")


def build_model(config: GanConfig):
    import numpy as np

    model = _model_class()(config)
    model(np.zeros((1, config.z_size), dtype="float32"))
    return model


def _model_class():
    import keras
    import tensorflow as tf

    class PhraseGan(keras.Model):
        def __init__(self, config: GanConfig, **kwargs):
            super().__init__(name="phrase_gan", **kwargs)
            self.config = config
            self.generator = build_generator(config)
            self.critic = build_critic(config)
            self.trackers = {n: keras.metrics.Mean(name=n)
                             for n in ("critic_loss", "generator_loss", "w_distance",
                                       "gradient_penalty")}

        def compile(self, g_optimizer, d_optimizer, **kwargs):
            super().compile(**kwargs)
            self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

        @property
        def metrics(self):
            return list(self.trackers.values())

        def call(self, z, training=False):
            return self.generator(z, training=training)

        def _penalty(self, real, fake):
            alpha = tf.random.uniform([tf.shape(real)[0], 1, 1, 1])
            mixed = alpha * real + (1 - alpha) * fake
            with tf.GradientTape() as tape:
                tape.watch(mixed)
                score = self.critic(mixed, training=True)
            grads = tape.gradient(score, mixed)
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
            return tf.reduce_mean((norm - 1.0) ** 2)

        def train_step(self, real):
            real = tf.cast(real, tf.float32)
            batch = tf.shape(real)[0]
            cfg = self.config
            for _ in range(cfg.critic_steps):
                z = tf.random.normal([batch, cfg.z_size])
                with tf.GradientTape() as tape:
                    fake = self.generator(z, training=True)
                    w_distance = (tf.reduce_mean(self.critic(real, training=True))
                                  - tf.reduce_mean(self.critic(fake, training=True)))
                    penalty = self._penalty(real, fake)
                    critic_loss = -w_distance + cfg.gradient_penalty * penalty
                grads = tape.gradient(critic_loss, self.critic.trainable_variables)
                self.d_optimizer.apply_gradients(zip(grads, self.critic.trainable_variables))
            z = tf.random.normal([batch, cfg.z_size])
            with tf.GradientTape() as tape:
                generator_loss = -tf.reduce_mean(
                    self.critic(self.generator(z, training=True), training=True))
            grads = tape.gradient(generator_loss, self.generator.trainable_variables)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
            return self._track(critic_loss=critic_loss, generator_loss=generator_loss,
                               w_distance=w_distance, gradient_penalty=penalty)

        def test_step(self, real):
            real = tf.cast(real, tf.float32)
            z = tf.random.normal([tf.shape(real)[0], self.config.z_size])
            fake = self.generator(z, training=False)
            w_distance = (tf.reduce_mean(self.critic(real)) - tf.reduce_mean(self.critic(fake)))
            return self._track(critic_loss=-w_distance, generator_loss=-tf.reduce_mean(
                self.critic(fake)), w_distance=w_distance, gradient_penalty=0.0)

        def _track(self, **values):
            for name, value in values.items():
                self.trackers[name].update_state(value)
            return {name: t.result() for name, t in self.trackers.items()}

    return PhraseGan


def weights_of(model) -> dict:
    """Every generator and critic weight, by index (to resume or fine-tune)."""
    out = {}
    for part in ("generator", "critic"):
        for i, w in enumerate(getattr(model, part).get_weights()):
            out[f"{part}/{i:03d}"] = w
    return out


def load_weights(model, weights: dict, parts: tuple[str, ...] = ("generator", "critic")) -> None:
    for part in parts:
        net = getattr(model, part)
        net.set_weights([weights[f"{part}/{i:03d}"] for i in range(len(net.get_weights()))])


def to_litert(generator, float16: bool = False) -> bytes:
    """The generator as a LiteRT (TFLite) flatbuffer, for generation without TensorFlow;
    `float16` stores its constants at half the size (the interpreter computes in float32).

    Goes through a SavedModel export, which freezes the weights into constants (converting a
    tf.function directly keeps them as resource variables the interpreter cannot read).
    """
    import tempfile

    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        generator.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if float16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
