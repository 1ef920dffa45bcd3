"""The deep linear family's sweep cell (``stagewise sweep``, family ``deep_linear``)."""

from __future__ import annotations

from dataclasses import dataclass

from infra.checks import (
    MAX_DIMENSION,
    check_choice,
    check_int,
    check_kappa,
    check_sigma,
    check_steps,
)
from sims.cells import param, result_row
from sims.families.deep_linear import check_options, nesterov_reference, train_stagewise
from sims.families.deep_linear.xp import array_namespace, train_stagewise_xp
from sims.problems import independent_seeds


@dataclass(frozen=True)
class DeepLinearCell:
    """A deep linear stagewise run (``sims.families.deep_linear.train_stagewise``) on the problem
    ``sims.problems.deep_linear_problem(d, kappa, sigma)``, with NAG's stages on the same problem
    for reference. ``target`` is relative to the initial loss."""

    d: int = param(8, "dimension of x, W* and every layer")
    kappa: float = param(100.0, "condition number of Sigma (spectrum geometric from 1 to 1/kappa)")
    sigma: float = param(0.05, "distance of W* from the identity: W* = I + sigma G / sqrt(d)")
    init: str = param("stack", "new layer's initialisation: zero, random, stack, copy, trainable")
    layer_grad: str = param(
        "euclidean", "euclidean (true layer gradient G P^T) or functional (G P^-1)"
    )
    beta: float | None = param(
        None, "momentum of stack/trainable (default beta* = (sqrt(kappa)-1)/(sqrt(kappa)+1))"
    )
    random_scale: float = param(0.0, "std of the random-init noise (entries N(0, scale^2/d))")
    stages: int = param(1000, "stage budget (one layer, one gradient step each)")
    target: float = param(1e-6, "stop once the loss is at most target times the initial loss")
    device: str = param("cpu", "cpu (Numba) or gpu (CuPy, extra gpu)")

    def __post_init__(self):
        check_int("d", self.d, low=1, high=MAX_DIMENSION)
        check_kappa(self.kappa)
        check_sigma(self.sigma)
        check_options(self.stages, self.init, self.beta, self.layer_grad, self.random_scale,
                      self.target)  # fmt: skip
        check_steps("stages", self.stages, low=1)
        check_choice("device", self.device, ("cpu", "gpu"))
        if self.device == "gpu":
            array_namespace("gpu")  # an InputError naming the install command without CuPy

    def run(self, seed: int) -> dict:
        from sims.problems import deep_linear_problem

        problem_seed, noise_seed = independent_seeds(seed, 2)
        sigma_mat, w_star = deep_linear_problem(self.d, self.kappa, self.sigma, seed=problem_seed)
        options = {
            "init": self.init,
            "layer_grad": self.layer_grad,
            "random_scale": self.random_scale,
            "seed": noise_seed,
            "target": self.target,
        }
        if self.beta is not None:
            options["beta"] = self.beta
        if self.device == "gpu":
            run = train_stagewise_xp(sigma_mat, w_star, self.stages, device="gpu", **options)
        else:
            run = train_stagewise(sigma_mat, w_star, self.stages, **options)
        nag = nesterov_reference(sigma_mat, w_star, self.stages)
        return result_row(run, self.target) | {
            "nag_stages_to_target": float(nag.steps_to(self.target))
        }
