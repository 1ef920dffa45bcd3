"""Every claim and figure of the project: ``paper_checks.claims.load()`` imports the claim modules,
which register themselves with ``paper_checks.registry`` (which imports none of them)."""

from __future__ import annotations

import fnmatch

from paper_checks import claims
from paper_checks.registry import FIGURES, REGISTRY, SCALES, Claim, Recipe
from theory.checks import InputError

claims.load()


def figures() -> dict[str, Recipe]:
    """Every figure recipe, by name."""
    return dict(FIGURES)


def all_claims() -> list[Claim]:
    """Every registered claim, sorted by id."""
    return sorted(REGISTRY.values(), key=lambda c: c.id)


def select(pattern: str | None, scale: str) -> list[Claim]:
    """Claims whose id matches the glob ``pattern`` (all when None) and that run at ``scale``."""
    if scale not in SCALES:
        raise InputError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    claims = [c for c in all_claims() if scale in c.scales]
    if pattern is None:
        return claims
    if not pattern.strip():
        raise InputError("--only must not be empty (leave it out to run every claim)")
    chosen = [
        c
        for c in claims
        if fnmatch.fnmatchcase(c.id, pattern) or fnmatch.fnmatchcase(c.id, f"*{pattern}*")
    ]
    if not chosen:
        raise InputError(
            f"--only {pattern!r} matches no claim at scale {scale!r} "
            "(see 'stagewise list' for the ids)"
        )
    return chosen
