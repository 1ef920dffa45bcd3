"""The boosting family's sweep cell (``stagewise sweep``, family ``boosting``)."""

from __future__ import annotations

from dataclasses import dataclass

from infra.checks import InputError, check_int, check_kappa, check_real, check_steps
from sims.cells import param, result_row
from sims.families.boosting import check_options, train_ensemble
from sims.problems import independent_seeds


@dataclass(frozen=True)
class BoostingCell:
    """A boosting run (``sims.families.boosting.train_ensemble``) on a regression (squared loss) or
    classification (logistic loss) problem of ``n`` points in ``p`` dimensions."""

    n: int = param(200, "number of data points")
    p: int = param(10, "number of features")
    kappa: float = param(100.0, "condition number of the features' covariance")
    noise: float = param(
        0.3,
        "label noise: std of y's noise (squared loss) or fraction of flipped labels, at most 0.5 (logistic)",
    )
    learner: str = param(
        "linear", "weak learner: linear or tree (tree: squared loss, and init stack needs beta)"
    )
    init: str = param("stack", "new learner's initialisation: zero, random, stack, copy")
    loss: str = param("squared", "squared or logistic")
    schedule: str = param("constant", "constant beta or convex beta_t = (t-1)/(t+2)")
    beta: float | None = param(None, "momentum of stack (default beta* from kappa)")
    stages: int = param(500, "number of learners")

    def __post_init__(self):
        check_int("n", self.n, low=2, high=10**6)
        check_int("p", self.p, low=1, high=10**4)
        check_kappa(self.kappa)
        check_real("noise", self.noise, low=0.0, high=0.5 if self.loss == "logistic" else None)
        if self.learner == "features":  # its n_features is not a cell parameter
            raise InputError(
                "learner 'features' is not swept (it needs n_features); use linear or tree"
            )
        check_options(self.stages, self.learner, self.init, self.beta, self.loss, self.schedule)
        check_steps("stages", self.stages, low=1)

    def run(self, seed: int) -> dict:
        from sims.problems import classification_problem, regression_problem

        problem_seed, run_seed = independent_seeds(seed, 2)
        make = regression_problem if self.loss == "squared" else classification_problem
        X, y = make(self.n, self.p, self.kappa, self.noise, seed=problem_seed)
        options = {
            "learner": self.learner,
            "init": self.init,
            "loss": self.loss,
            "schedule": self.schedule,
        }
        if self.beta is not None:
            options["beta"] = self.beta
        return result_row(train_ensemble(X, y, self.stages, seed=run_seed, **options))
