"""Preconditions and control kinds (issue 28): a claim whose testbed cannot show the effect is
mis-posed, whatever its statistics say; the report marks planted controls."""

import numpy as np
import pytest

from paper_checks import registry, report
from paper_checks.expect import AtLeast, Estimate, mean_interval


def _claim(precondition_mean, positive="a second system", name="test.precondition"):
    def measure(scale, *, effect=1.0):
        stats = {
            "effect": mean_interval(effect + np.array([-0.01, 0.0, 0.01])),
            "depth": mean_interval(precondition_mean + np.array([-0.01, 0.0, 0.01])),
        }
        return registry.Measurement(stats, {}, "numbers")

    return registry.Claim(
        name, "source", "reconstructed", "statement", "measurement", {"effect": AtLeast(0.0)},
        positive, "a broken variant", measure, {"negative": {"effect": -1.0}},
        requires={"depth": AtLeast(1.0)},
    )  # fmt: skip


def test_a_failed_precondition_makes_the_verdict_mis_posed():
    verdict = registry.run_claim(_claim(0.2), "quick")
    assert verdict.verdict == "mis-posed"
    assert "precondition depth >= 1" in verdict.reason
    assert registry.run_claim(_claim(2.0), "quick").verdict == "supported"


def test_an_undecided_precondition_is_not_enough():
    assert registry.run_claim(_claim(1.0), "quick").verdict == "mis-posed"  # straddles 1


def test_the_report_shows_preconditions_and_planted_controls():
    claim = _claim(2.0, positive="planted: shifted by 1")
    claim = registry.Claim(**{**claim.__dict__, "why_planted": "no known-better system"})
    verdict = registry.run_claim(claim, "quick")
    entry = report.claim_entry(verdict)
    assert entry["control_kinds"] == {"positive": "planted", "negative": "measured"}
    assert report.bands_text(entry) == "effect >= 0; precondition depth >= 1"
    assert report.control_text(entry, "positive") == "supported (planted)"
    assert report.control_text(entry, "negative") == "refuted"
    assert report.uncalibrated(entry) == []  # the precondition is no band of the negative control
    text = report.render_markdown([verdict], report.claims_document([verdict], "quick"), {})
    assert "**Preconditions** (else mis-posed). depth >= 1." in text
    assert "positive control, planted (planted: shifted by 1)" in text
    assert "* no measured control: no known-better system" in text


def test_a_precondition_cannot_also_be_a_band():
    with pytest.raises(ValueError, match="precondition"):
        registry.claim(id="x.y", source="s", provenance="standard", statement="s",
                       measurement="m", expect={"a": AtLeast(0)}, positive=registry.Control("p"),
                       negative=registry.Control("n"),
                       requires={"a": AtLeast(1)})  # fmt: skip


def test_a_planted_control_needs_its_reason_and_only_then():
    common = {"source": "s", "provenance": "standard", "statement": "s", "measurement": "m",
              "expect": {"a": AtLeast(0)}, "negative": registry.Control("n")}  # fmt: skip
    with pytest.raises(ValueError, match="why_planted"):
        registry.claim(id="x.planted", positive=registry.Control("planted: shifted"),
                       **common)(lambda scale: None)  # fmt: skip
    with pytest.raises(ValueError, match="why_planted"):
        registry.claim(id="x.measured", positive=registry.Control("a second system"),
                       why_planted="none", **common)(lambda scale: None)  # fmt: skip
    assert "x.planted" not in registry.REGISTRY and "x.measured" not in registry.REGISTRY


def test_every_verdict_is_explained_once_where_users_read_it(capsys):
    """The report's legend and ``stagewise check --help`` both render every verdict's meaning from
    paper_checks.verdicts; the verdicts the registry gives are among them."""
    from paper_checks import cli, verdicts

    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    legend = " ".join(report.VERDICT_LEGEND.split())
    for name, meaning in verdicts.MEANINGS.items():
        assert f"{name}: {meaning}" in help_text
        assert f"`{name}`: {meaning}" in legend
    given = {registry.run_claim(_claim(m), "quick").verdict for m in (0.2, 2.0)}
    assert given == {"mis-posed", "supported"} and given <= set(verdicts.VERDICTS)


def test_a_control_is_options_of_the_measure_and_the_measure_never_sees_the_arm():
    """Each arm runs the measure with its control's options (the claim arm with the defaults);
    a measure that names ``rng`` gets the claim's generator afresh on every arm."""
    seen = []

    def measure(scale, *, rng, effect=1.0):
        seen.append((effect, rng.integers(10**9)))
        return registry.Measurement({"effect": mean_interval(effect + np.array([-0.01, 0.01]))},
                                    {}, "")  # fmt: skip

    common = {"source": "s", "provenance": "standard", "statement": "s", "measurement": "m",
              "expect": {"effect": AtLeast(0)}}  # fmt: skip
    registry.claim(id="test.options", positive=registry.Control("p", effect=2.0),
                   negative=registry.Control("n", effect=-1.0), **common)(measure)  # fmt: skip
    try:
        verdict = registry.run_claim(registry.REGISTRY["test.options"], "quick")
    finally:
        registry.REGISTRY.pop("test.options")
    assert verdict.verdict == "supported"
    assert [effect for effect, _ in seen] == [1.0, 2.0, -1.0]  # claim, positive, negative
    assert len({draw for _, draw in seen}) == 1  # the same instances on every arm
    with pytest.raises(ValueError, match="not options of the measure"):
        registry.claim(id="test.unknown", positive=registry.Control("p", efect=2.0),
                       negative=registry.Control("n"), **common)(measure)  # fmt: skip
    with pytest.raises(ValueError, match="not options of the measure"):
        registry.claim(id="test.rng", positive=registry.Control("p", rng=None),
                       negative=registry.Control("n"), **common)(measure)  # fmt: skip
    assert "test.unknown" not in registry.REGISTRY and "test.rng" not in registry.REGISTRY


def test_a_verdict_survives_its_json_round_trip_with_non_finite_estimates():
    """The runner stores each verdict as JSON text and reads it back (``Verdict.as_dict`` /
    ``from_dict``): the report made from the copy equals the report made from the original,
    NaN and infinite estimates included (they become strings in JSON)."""
    import json

    def measure(scale, *, effect=1.0):
        blind = Estimate(float("nan"), float("-inf"), float("inf"), 3, "t")
        stats = {"effect": mean_interval(effect + np.array([-0.01, 0.0, 0.01])), "blind": blind}
        return registry.Measurement(stats, {"curve": np.arange(3.0)}, "numbers")

    claim = registry.Claim(
        "test.round-trip", "source", "reconstructed", "statement", "measurement",
        {"effect": AtLeast(0.0), "blind": AtLeast(0.0)}, "a second system", "a broken variant",
        measure, {"negative": {"effect": -1.0}},
    )  # fmt: skip
    verdict = registry.run_claim(claim, "quick")
    assert verdict.verdict == "mis-posed"  # the blind statistic leaves the negative undecided
    copy = registry.Verdict.from_dict(claim, "quick", json.loads(json.dumps(verdict.as_dict())))
    assert isinstance(copy.arms["claim"].statistics["effect"], Estimate)
    assert json.dumps(report.claim_entry(copy)) == json.dumps(report.claim_entry(verdict))


def test_an_undecided_control_says_how_many_seeds_would_decide_it():
    """A positive control whose interval straddles the band's edge makes the claim mis-posed; the
    verdict says how many seeds the power calculation asks for that control, as for the claim."""
    claim = _claim(2.0)
    undecided = registry.Claim(
        claim.id, claim.source, claim.provenance, claim.statement, claim.measurement,
        claim.expect, claim.positive, claim.negative, claim.measure,
        {"positive": {"effect": 0.005}, "negative": {"effect": -1.0}}, requires=claim.requires,
    )  # fmt: skip
    verdict = registry.run_claim(undecided, "quick")
    assert verdict.verdict == "mis-posed"
    # effect 0.005 +- 0.01 on 3 values: t interval half-width 4.303 * 0.01 / sqrt(3) = 0.0248,
    # margin 0.005: n = 3 * ((1.96 + 0.842) / 1.96 * 0.0248 / 0.005)^2 = 151.5 -> 152
    assert verdict.seeds_needed["positive control: effect"] == 152
    assert "negative control: effect" not in verdict.seeds_needed  # it behaved
    assert registry.run_claim(claim, "quick").seeds_needed.keys() == {"effect"}
