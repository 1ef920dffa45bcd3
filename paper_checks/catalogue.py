"""Every claim and figure of the project: ``paper_checks.claims.load()`` imports the claim modules,
which register themselves with ``paper_checks.registry`` (which imports none of them)."""

from __future__ import annotations

import fnmatch

from infra.checks import InputError
from paper_checks import claims
from paper_checks.registry import FIGURES, REGISTRY, SCALES, Claim, Recipe

claims.load()


def figures() -> dict[str, Recipe]:
    """Every figure recipe, by name."""
    return dict(FIGURES)


def all_claims() -> list[Claim]:
    """Every registered claim, sorted by id."""
    return sorted(REGISTRY.values(), key=lambda c: c.id)


MIN_SUBSTRING = 3  # shorter text without wildcards would match nearly every id
GLOB_CHARACTERS = "*?["


def matching(pattern: str | None, names: list[str], what: str) -> list[str]:
    """The ``names`` that ``pattern`` selects (all when None), in their order: a comma-separated
    list of parts, each selecting on its own; a part with a wildcard (``* ? [``) is a glob
    matched against the whole name, one without is text that the name contains, at least
    ``MIN_SUBSTRING`` characters long. An empty or too short part, or one matching nothing, is an
    ``InputError``."""
    if pattern is None:
        return list(names)
    if not pattern.strip():
        raise InputError(f"--only must not be empty (leave it out to select every {what})")
    chosen = set()
    for part in pattern.split(","):
        if not part.strip():
            raise InputError(f"--only {pattern!r} has an empty part between its commas")
        if any(ch in part for ch in GLOB_CHARACTERS):
            found = {n for n in names if fnmatch.fnmatchcase(n, part)}
        elif len(part) < MIN_SUBSTRING:
            raise InputError(
                f"--only {part!r} is too short to select by substring (at least {MIN_SUBSTRING} "
                f"characters, or a glob such as 'nesterov.*')"
            )
        else:
            found = {n for n in names if part in n}
        if not found:
            raise InputError(f"--only {part!r} matches no {what}")
        chosen |= found
    return [n for n in names if n in chosen]


def select(pattern: str | None, scale: str) -> list[Claim]:
    """The claims that run at ``scale`` whose ids ``pattern`` selects (see ``matching``)."""
    if scale not in SCALES:
        raise InputError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    claims = {c.id: c for c in all_claims() if scale in c.scales}
    try:
        return [claims[i] for i in matching(pattern, list(claims), "claim")]
    except InputError as exc:
        if "matches no" not in str(exc):
            raise
        raise InputError(f"{exc} at scale {scale!r} (see 'stagewise list' for the ids)") from None
