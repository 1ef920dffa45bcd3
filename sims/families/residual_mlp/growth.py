"""The residual MLP's growth adapter: how ``sims.growth`` makes, trains and reads its blocks."""

from __future__ import annotations

from infra.checks import check_dtype, check_int
from sims.families import residual_mlp
from sims.growth import BlockFamily, Model


class ResidualMLPFamily(BlockFamily):
    """The pre-LN residual MLP (``sims.residual_mlp``) on a regression task: a layer is one
    block's (ln_g, ln_b, w1, b1, w2, b2); embedding and head are shared and always train. Adam,
    minibatch ``batch_size``, eval loss on ``(X_eval, y_eval)`` every ``eval_every`` steps,
    trained in ``dtype`` (float64 or float32; ``grow`` hands over float64 copies, exact for both)."""

    zero_keys = ("w2", "b2")
    block_keys = residual_mlp.BLOCK_KEYS

    def __init__(self, X, y, X_eval, y_eval, width: int, *, batch_size=128, eval_every=25,
                 dtype="float64"):  # fmt: skip
        self.X, self.y, self.X_eval, self.y_eval = X, y, X_eval, y_eval
        self.dtype = check_dtype(dtype)
        self.width = check_int("width", width, low=1)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.eval_every = check_int("eval_every", eval_every, low=1)

    def fresh(self, rng, model: Model | None = None) -> dict:
        """A new block (``model``, the network being grown, is not needed here)."""
        return self.model(
            residual_mlp.init_params(self.X.shape[1], self.width, 1, seed=rng)
        ).layers[0]

    def train(self, model: Model, steps, lrs, trainable, rng):
        result = residual_mlp.train(
            self.params(model), self.X, self.y, steps, lr=lrs, batch_size=self.batch_size,
            optimizer_state=model.state, trainable=trainable, X_eval=self.X_eval,
            y_eval=self.y_eval, eval_every=self.eval_every, seed=rng, dtype=self.dtype,
        )  # fmt: skip
        return self.trained(result)
