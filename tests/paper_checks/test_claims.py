"""Every registered claim runs at the quick scale. Textbook facts and exact identities must pass
(a failure there is a bug); the other claims may fail (a finding) but must not error."""

import math

import pytest

from paper_checks import catalogue, registry

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


@pytest.mark.parametrize("claim", catalogue.all_claims(), ids=lambda c: c.id)
def test_claim_runs_at_quick_scale(claim):
    verdict = registry.run_claim(claim, "quick")
    assert verdict.verdict != "error", verdict.summary
    assert verdict.summary
    assert _finite_numbers(verdict.measured)
    if claim.id in MUST_PASS:
        assert verdict.verdict == "pass", verdict.summary


def test_every_claim_is_fully_described():
    ids = [c.id for c in catalogue.all_claims()]
    assert len(ids) == len(set(ids))
    for c in catalogue.all_claims():
        assert c.provenance in registry.PROVENANCES
        assert c.source and c.statement and c.expected
        assert "." in c.id


def test_every_figure_of_the_gallery_belongs_to_a_claim():
    """``stagewise check`` draws the figures its claims name: each recipe must be named, and
    every name must be a recipe."""
    from paper_checks.gallery import RECIPES

    named = {name for c in catalogue.all_claims() for name in c.figures}
    assert named == set(RECIPES)


@pytest.mark.parametrize("setup", ["_mlp_setup", "_linear_setup"])
def test_growth_experiments_feed_each_stream_its_own_seed(setup, generator_states):
    """Data, evaluation data, initialisation and training of a growth experiment draw from
    independent streams (the data and the initial weights used to come from one integer)."""
    from paper_checks import claims_growth
    from sims import growth

    family, model, _, _, options = getattr(claims_growth, setup)("quick", 7)
    growth.train_grown(family, model, None, [1], **{**options, "warmup": 0})
    assert len(generator_states) >= 2
    assert len(set(generator_states)) == len(generator_states)
