"""The deep linear family's growth adapter: how ``sims.growth`` makes, trains and reads its layers."""

from __future__ import annotations

import numpy as np

from infra.checks import InputError, check_real
from sims.families import deep_linear
from sims.growth import Model


class DeepLinearFamily:
    """Deep linear residual networks (``sims.deep_linear``): a layer is ``{"W": (d, d)}``, trained
    by plain GD on the population risk (no optimiser state); evaluated every step."""

    zero_keys = None

    def __init__(self, Sigma, W_star, random_scale: float = 0.1):
        self.sigma, self.w_star = Sigma, W_star
        self.random_scale = check_real("random_scale", random_scale, low=0.0)

    def fresh(self, rng, model: Model | None = None) -> dict:
        """A new layer (``model``, the network being grown, is not needed here)."""
        d = self.sigma.shape[0]
        return {"W": self.random_scale * rng.standard_normal((d, d)) / np.sqrt(d)}

    def train(self, model: Model, steps, lrs, trainable, rng):
        if np.ptp(lrs) > 0:
            raise InputError("the deep linear family trains with one constant lr (decay=False)")
        result = deep_linear.train_layers(
            self.sigma, self.w_star, [layer["W"] for layer in model.layers], steps,
            lr=float(lrs[0]), trainable=trainable,
        )  # fmt: skip
        layers = [{"W": w} for w in result.layers]
        return Model(None, layers), result.stage_axis(), result.losses, result.status

    def map_state(self, state, index_map, reset):
        return None

    def params(self, model: Model):
        return None
