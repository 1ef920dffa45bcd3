"""Boosting with linear learners in plain NumPy.

They implement the same recursions as the Numba kernel (``kernel.py`` beside this module) with
textbook whole-array expressions, so agreement between the two is a real check of both."""

from __future__ import annotations

import numpy as np

from sims.results import Status


def ensemble_reference(Z, y, Ze, ye, stages, logistic, convex, beta, eta, init, noise, coef0):
    """Boosting with a linear-in-parameters learner, residual form (see
    ``sims/families/boosting/kernel.py``). Returns ``(losses, eval_losses or None, coef, Status)``."""
    n = Z.shape[0]

    def risk(design, labels, w):
        margins = design @ w
        if logistic:
            return float(np.mean(np.logaddexp(0.0, -labels * margins)))
        return float(np.sum((margins - labels) ** 2) / (2 * design.shape[0]))

    def gradient(v):
        margins = Z @ v
        if logistic:
            return Z.T @ (-y / (1.0 + np.exp(y * margins))) / n
        return Z.T @ (margins - y) / n

    w = coef0.copy()
    a = np.zeros_like(w)
    losses = [risk(Z, y, w)]
    eval_losses = None if Ze is None else [risk(Ze, ye, w)]
    with np.errstate(all="ignore"):
        for t in range(stages):
            if init == "zero":
                start = np.zeros_like(w)
            elif init == "random":
                start = noise[t]
            else:
                beta_t = ((t - 1) / (t + 2) if t >= 1 else 0.0) if convex else beta
                start = beta_t * a
            a = start - eta * gradient(w + start)
            w = w + a
            losses.append(risk(Z, y, w))
            if eval_losses is not None:
                eval_losses.append(risk(Ze, ye, w))
            if not np.isfinite(losses[-1]) or (losses[0] > 0 and losses[-1] > 1e6 * losses[0]):
                return np.array(losses), eval_losses and np.array(eval_losses), w, Status.DIVERGED
    return np.array(losses), eval_losses and np.array(eval_losses), w, Status.MAX_STAGES
