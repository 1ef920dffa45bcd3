"""The deep linear stagewise recursion in plain array-API code, in the ORIGINAL basis (the kernel
works in the eigenbasis of Sigma with hand-written loops).

They implement the same recursions as the Numba kernel (``kernel.py`` beside this module) with
textbook whole-array expressions, so agreement between the two is a real check of both."""

from __future__ import annotations

import numpy as np

from sims.results import Status


def stagewise_reference(
    xp,
    sigma,
    w_star,
    v0,
    stages,
    beta,
    eta,
    beta_lr,
    init,
    functional,
    noise,
    target_rel,
    divergence_rel,
):
    """Stagewise training of a deep linear residual network (the recursion of
    ``sims/families/deep_linear/kernel.py``) in the original basis, written once against the Python array
    API: NumPy for the reference and the CPU, CuPy on a GPU, array-api-strict in tests. Returns
    host NumPy ``(losses, e1, e2, betas, Status)``."""
    d = sigma.shape[0]

    def risk(p):
        e = p - w_star
        return float(0.5 * xp.sum((e @ sigma) * e))

    def norm(a):
        return float(xp.linalg.vector_norm(a))

    p_prev = p = v0
    w = xp.zeros((d, d), dtype=xp.float64)
    losses, e1, e2, betas = [risk(p)], [], [], []
    threshold = divergence_rel * losses[0] if losses[0] > 0 else np.inf
    beta_t = beta
    status = Status.MAX_STAGES
    with np.errstate(all="ignore"):  # divergence is detected below, not warned about
        for t in range(stages):
            start = noise[t, ...] if init == "random" else beta_t * w
            y = p + start @ p
            g = (y - w_star) @ sigma
            direction = xp.linalg.solve(p.T, g.T).T if functional else g @ p.T  # G P^-1 | G P^T
            beta_next = beta_t
            if init == "trainable":
                beta_next = beta_t - beta_lr * float(xp.sum(direction * w))
                start = beta_next * w
            w = start - eta * direction
            p_next = p + w @ p
            step = norm(p_next - p)
            lookahead_nag = p + beta_t * (p - p_prev)
            e1.append(norm(y - lookahead_nag) / step if step > 0 else np.nan)
            e2.append(norm(p_next - (y - eta * g)) / step if step > 0 else np.nan)
            betas.append(beta_next)
            beta_t = beta_next
            p_prev, p = p, p_next
            losses.append(risk(p))
            if not np.isfinite(losses[-1]) or losses[-1] > threshold:
                status = Status.DIVERGED
                break
            if target_rel > 0 and losses[-1] <= target_rel * losses[0]:
                status = Status.CONVERGED
                break
    return np.array(losses), np.array(e1), np.array(e2), np.array(betas), status
