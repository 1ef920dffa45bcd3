"""Every registered claim runs at the quick scale. Textbook facts and exact identities must pass
(a failure there is a bug); the other claims may fail (a finding) but must not error."""

import math

import pytest

from paper_checks import registry

MUST_PASS = {
    "growth.exact",
    "nesterov.worst-case-bound",
    "nesterov.worst-case-pep",
    "nesterov.steps-scaling",
    "stacking.error-identities",
}


def _finite_numbers(value):
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite_numbers(v) for v in value)
    if isinstance(value, float):
        return not math.isnan(value)
    return True


@pytest.mark.parametrize("claim", registry.all_claims(), ids=lambda c: c.id)
def test_claim_runs_at_quick_scale(claim):
    verdict = registry.run_claim(claim, "quick")
    assert verdict.verdict != "error", verdict.summary
    assert verdict.summary
    assert _finite_numbers(verdict.measured)
    if claim.id in MUST_PASS:
        assert verdict.verdict == "pass", verdict.summary


def test_every_claim_is_fully_described():
    ids = [c.id for c in registry.all_claims()]
    assert len(ids) == len(set(ids))
    for c in registry.all_claims():
        assert c.provenance in registry.PROVENANCES
        assert c.source and c.statement and c.expected
        assert "." in c.id


def test_every_figure_of_the_gallery_belongs_to_a_claim():
    """``stagewise check`` draws the figures its claims name: each recipe must be named, and
    every name must be a recipe."""
    from paper_checks.gallery import RECIPES

    named = {name for c in registry.all_claims() for name in c.figures}
    assert named == set(RECIPES)
