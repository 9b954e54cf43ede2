"""The 16-bar melody VAE as a VAE over a 2-bar VAE's latents, in NumPy.

A 16-bar melody is eight 2-bar segments; the 2-bar model (the bottom) encodes each into a
latent it decodes back at 0.96 teacher-forced on held-out pop melodies. The top model encodes
the sequence of those eight latents into one z and decodes z into eight latents again, which
the bottom plays. This is MusicVAE's hierarchy (a conductor emits one embedding per segment
and a note decoder plays each) with the embeddings tied to a trained 2-bar latent space, so
the top learns only the structure between segments: a run that fits on 2 CPU cores, where
MusicVAE's 16-bar model needed hundreds of thousands of GPU steps (docs/BENCHMARKS.md).

Same interface as models.vae.runtime.VaeRuntime (encode, decode, decode_logits, prior,
sample), so generation, interpolation and evaluation take either.
"""

from __future__ import annotations

import numpy as np

from models.vae.runtime import (VaeRuntime, _lstm_step, closest_latent, place_on_prior,
                                prior_spread, slerp)

BOTTOM = "bottom/"  # the 2-bar model's weights are stored in the checkpoint under this prefix


class StackedVaeRuntime:
    def __init__(self, weights: dict[str, np.ndarray], bottom: VaeRuntime, segments: int,
                 spread: float = 1.0):
        self.w = {k: v.astype(np.float32) for k, v in weights.items()
                  if not k.startswith(BOTTOM)}
        self.bottom, self.segments, self.spread = bottom, segments, spread
        self.vocab_size, self.steps = bottom.vocab_size, bottom.steps * segments

    @classmethod
    def from_checkpoint(cls, info: dict, weights: dict[str, np.ndarray]) -> StackedVaeRuntime:
        net = info["network"]
        bottom = VaeRuntime.from_checkpoint(
            {"network": net["bottom"]},
            {k[len(BOTTOM):]: v for k, v in weights.items() if k.startswith(BOTTOM)})
        return cls(weights, bottom, net["segments"], prior_spread(info))

    @property
    def z_size(self) -> int:
        return self.w["mu/bias"].shape[0]

    def prior(self, noise: np.ndarray) -> np.ndarray:
        """As VaeRuntime.prior: the fitted aggregate posterior where the checkpoint has it."""
        return place_on_prior(self.w, noise, self.spread)

    def segment_latents(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """The bottom's posterior mean and scale for each segment: [batch, segments, z]."""
        ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
        mu, sigma = self.bottom.encode(ids.reshape(-1, self.bottom.steps))
        shape = (len(ids), self.segments, -1)
        return mu.reshape(shape), sigma.reshape(shape)

    def encode_latents(self, latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of q(z | segment latents) for [batch, segments, bottom z]."""
        x = np.asarray(latents, np.float32)
        h = np.concatenate([self._direction(x, "encoder_fw"),
                            self._direction(x[:, ::-1], "encoder_bw")], axis=-1)
        mu = h @ self.w["mu/kernel"] + self.w["mu/bias"]
        sigma = np.logaddexp(0.0, h @ self.w["sigma/kernel"] + self.w["sigma/bias"]) + 1e-6
        return mu, sigma

    def _direction(self, x: np.ndarray, name: str) -> np.ndarray:
        kernel, recurrent, bias = (self.w[f"{name}/{k}"] for k in ("kernel", "recurrent", "bias"))
        h = np.zeros((x.shape[0], recurrent.shape[0]), np.float32)
        c = np.zeros_like(h)
        for t in range(x.shape[1]):
            h, c = _lstm_step(x[:, t] @ kernel, h, c, recurrent, bias)
        return h

    def encode(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of q(z | melody) for [batch, steps] class ids."""
        return self.encode_latents(self.segment_latents(ids)[0])

    def plan(self, z) -> np.ndarray:
        """The segment latents z decodes to: [batch, segments, bottom z]."""
        z = np.atleast_2d(np.asarray(z, np.float32))
        h, c = np.split(np.tanh(z @ self.w["initial_state/kernel"]
                                + self.w["initial_state/bias"]), 2, axis=-1)
        out = []
        for _ in range(self.segments):  # the conductor's input is zeros: no input projection
            h, c = _lstm_step(0.0, h, c, self.w["conductor/recurrent"], self.w["conductor/bias"])
            out.append(h @ self.w["latent/kernel"] + self.w["latent/bias"])
        return np.stack(out, axis=1)

    def decode(self, z, temperature: float = 0.0, rng: np.random.Generator | None = None
               ) -> np.ndarray:
        """[batch, steps] class ids decoded from [batch, z] latents (greedy at temperature 0)."""
        plan = self.plan(z)
        ids = self.bottom.decode(plan.reshape(-1, plan.shape[-1]), temperature, rng)
        return ids.reshape(len(plan), self.steps)

    def decode_logits(self, ids, z) -> np.ndarray:
        """Teacher-forced logits [batch, steps, vocab], each segment read from its own start."""
        ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
        plan = self.plan(z)
        logits = self.bottom.decode_logits(ids.reshape(-1, self.bottom.steps),
                                           plan.reshape(-1, plan.shape[-1]))
        return logits.reshape(len(ids), self.steps, -1)

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 0.5) -> np.ndarray:
        """New melodies from the prior (the fitted one where the checkpoint has it)."""
        return self.decode(self.prior(rng.standard_normal((n, self.z_size))), temperature, rng)

    def closest_plan(self, ids, candidates: int = 16) -> np.ndarray:
        """[segments, bottom z]: each segment's closest_latent under the bottom model."""
        segments = np.asarray(ids, np.int64).reshape(self.segments, self.bottom.steps)
        return np.stack([closest_latent(self.bottom, s, candidates) for s in segments])

    def interpolate(self, a_ids, b_ids, steps: int, candidates: int = 1) -> np.ndarray:
        """[steps, window] melodies walking from a to b through the top's z, both ends included.

        Why the residuals: one z cannot hold every detail of a 16-bar chorus (the top gives
        back 0.78 of POP909 choruses' sixteenths where the bottom alone gives back 0.94), so
        each end's plan carries what the top missed, its own segment latents minus the plan
        its z decodes to, and that residual fades linearly across the walk. The ends are the
        bottom's own encodings of the songs; the steps between move through the top's space."""
        plans = [self.closest_plan(ids, candidates) if candidates > 1
                 else self.segment_latents(ids)[0][0] for ids in (a_ids, b_ids)]
        zs = [self.encode_latents(p[None])[0][0] for p in plans]
        residuals = [p - self.plan(z)[0] for p, z in zip(plans, zs)]
        walk = []
        for t in np.linspace(0.0, 1.0, steps):
            plan = (self.plan(slerp(zs[0], zs[1], t))[0]
                    + (1.0 - t) * residuals[0] + t * residuals[1])
            walk.append(plan)
        walk = np.stack(walk).astype(np.float32)
        ids = self.bottom.decode(walk.reshape(-1, walk.shape[-1]))
        return ids.reshape(steps, self.steps)


def load_runtime(info: dict, weights: dict[str, np.ndarray]) -> VaeRuntime | StackedVaeRuntime:
    """The runtime for a VAE checkpoint: stacked when its network names a bottom model."""
    if "bottom" in info.get("network", {}):
        return StackedVaeRuntime.from_checkpoint(info, weights)
    return VaeRuntime.from_checkpoint(info, weights)

