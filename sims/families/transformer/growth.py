"""The transformer's growth adapter: how ``sims.growth`` makes, trains and reads its blocks."""

from __future__ import annotations

from infra.checks import check_dtype, check_int
from sims.families import transformer
from sims.growth import BlockFamily, Model


class TransformerFamily(BlockFamily):
    """The pre-LN transformer (``sims.transformer``): a layer is one block (attention and MLP);
    embeddings, final LN and head are shared and always train. Adam on minibatches of ``data``
    with ``objective`` (next-token or MLM), eval loss on ``eval_data`` every ``eval_every`` steps.
    A zero block has zero output projections (``wo, bo, w2, b2``): the function is unchanged and
    gradients still reach it; the same arrays carry ``grow``'s ``beta``. Trained in ``dtype``
    (float64 or float32)."""

    zero_keys = ("wo", "bo", "w2", "b2")
    block_keys = transformer.BLOCK_KEYS

    def __init__(self, data, eval_data, *, heads, causal, objective, batch_size=32,
                 eval_every=25, checkpoint_every=0, dtype="float64"):  # fmt: skip
        self.data, self.eval_data = data, eval_data
        self.dtype = check_dtype(dtype)
        self.heads, self.causal, self.objective = heads, causal, objective
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.eval_every = check_int("eval_every", eval_every, low=1)
        self.checkpoint_every = check_int("checkpoint_every", checkpoint_every, low=0)
        self.checkpoints = []  # (step within its stage, depth, params) when checkpoint_every

    def fresh(self, rng, model: Model) -> dict:
        """A new block, drawn as ``init_params`` draws one for ``model``'s vocabulary, width and
        context."""
        (vocab, width), context = model.shared["tok"].shape, model.shared["pos"].shape[0]
        fresh = transformer.init_params(vocab, width, 1, context, seed=rng)
        return self.model(fresh).layers[0]

    def train(self, model: Model, steps, lrs, trainable, rng):
        params = self.params(model)
        marks = range(self.checkpoint_every, steps + 1, self.checkpoint_every or steps + 1)
        result = transformer.train(
            params, self.data, steps, heads=self.heads, causal=self.causal,
            objective=self.objective, lr=lrs, batch_size=self.batch_size,
            optimizer_state=model.state, trainable=trainable, eval_data=self.eval_data,
            eval_every=self.eval_every, checkpoints=marks, seed=rng, dtype=self.dtype,
        )  # fmt: skip
        self.checkpoints += [(len(model.layers), result.checkpoints[t]) for t in sorted(marks)
                             if t in result.checkpoints]  # fmt: skip
        return self.trained(result)
