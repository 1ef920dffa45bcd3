"""Plain NumPy references of the Numba kernels, kept for tests and benchmarks.

They implement the same recursions in the ORIGINAL basis with textbook matrix expressions (the
kernels work in the eigenbasis of Sigma with hand-written loops), so agreement between the two is
a real check of both.
"""

from __future__ import annotations

import numpy as np


def stagewise_reference(
    sigma, w_star, v0, stages, beta, eta, init, functional, noise, target_rel, divergence_rel
):
    """Stagewise training of a deep linear residual network (see ``sims/_kernels/deep_linear.py``
    for the recursion). Returns ``(losses, e1, e2, betas, status code)``."""
    d = sigma.shape[0]

    def risk(p):
        e = p - w_star
        return 0.5 * np.trace(e @ sigma @ e.T)

    p_prev = p = v0.copy()
    w = np.zeros((d, d))
    losses, e1, e2, betas = [risk(p)], [], [], []
    threshold = divergence_rel * losses[0] if losses[0] > 0 else np.inf
    beta_t = beta
    with np.errstate(all="ignore"):  # divergence is detected below, not warned about
        for t in range(stages):
            start = noise[t] if init == "random" else beta_t * w
            y = (np.eye(d) + start) @ p
            g = (y - w_star) @ sigma
            direction = g @ np.linalg.inv(p) if functional else g @ p.T
            if init == "trainable":
                beta_t_next = beta_t - eta * np.sum(direction * w)
                start = beta_t_next * w
            else:
                beta_t_next = beta_t
            w = start - eta * direction
            p_next = (np.eye(d) + w) @ p
            step = np.linalg.norm(p_next - p)
            lookahead_nag = p + beta_t * (p - p_prev)
            e1.append(np.linalg.norm(y - lookahead_nag) / step if step > 0 else np.nan)
            e2.append(np.linalg.norm(p_next - (y - eta * g)) / step if step > 0 else np.nan)
            betas.append(beta_t_next)
            beta_t = beta_t_next
            p_prev, p = p, p_next
            losses.append(risk(p))
            if not np.isfinite(losses[-1]) or losses[-1] > threshold:
                return np.array(losses), np.array(e1), np.array(e2), np.array(betas), 2
            if target_rel > 0 and losses[-1] <= target_rel * losses[0]:
                return np.array(losses), np.array(e1), np.array(e2), np.array(betas), 1
    return np.array(losses), np.array(e1), np.array(e2), np.array(betas), 0
