"""PEPit: the stored table against the exact quadratic worst cases, and fresh solves (marker pep)."""

import itertools

import pytest

from theory import pep, spectral


def test_stored_table_is_complete():
    keys = {
        (r["method"], r["function_class"], r["kappa"], r["n_steps"], r["eps"])
        for r in pep.stored_table()["rows"]
    }
    assert keys == set(pep.table_keys())


@pytest.mark.parametrize("kappa", [10, 100])
@pytest.mark.parametrize("method", ["gd", "nag"])
def test_stored_quadratic_class_matches_exact_worst_case(kappa, method):
    # acceptance: worst_case_ratio matches PEPit's tight quadratic values, rtol 1e-3, N = 10
    stored = pep.stored_worst_case(method, "quadratic", kappa, 10)
    assert spectral.worst_case_ratio(method, kappa, 10) == pytest.approx(stored, rel=1e-3)


def test_inexact_gradients_only_make_things_worse():
    # stored with errors for the smooth strongly convex class only (see pep.table_keys)
    for method in ("gd", "nag"):
        for kappa in pep.TABLE_KAPPAS:
            for n in pep.TABLE_STEPS:
                values = [
                    pep.stored_worst_case(method, "smooth_strongly_convex", kappa, n, e)
                    for e in pep.TABLE_EPS
                ]
                assert all(b >= a * (1 - 1e-3) for a, b in itertools.pairwise(values))


@pytest.mark.pep
@pytest.mark.parametrize("kappa", [10, 100])
def test_fresh_pepit_solve_matches_exact_worst_case(kappa):
    pytest.importorskip("PEPit")
    value, _solver = pep.pep_worst_case("nag", "quadratic", kappa, 10)
    assert value == pytest.approx(spectral.worst_case_ratio("nag", kappa, 10), rel=1e-3)


@pytest.mark.pep
def test_smooth_class_is_no_easier_than_quadratics():
    pytest.importorskip("PEPit")
    quad, _ = pep.pep_worst_case("gd", "quadratic", 10, 4)
    smooth, _ = pep.pep_worst_case("gd", "smooth_strongly_convex", 10, 4)
    assert smooth >= quad * (1 - 1e-3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"method": "sgd", "function_class": "quadratic", "kappa": 10, "n_steps": 2}, "method"),
        ({"method": "gd", "function_class": "convex", "kappa": 10, "n_steps": 2}, "function_class"),
        ({"method": "gd", "function_class": "quadratic", "kappa": 10, "n_steps": 0}, "n_steps"),
        (
            {"method": "gd", "function_class": "quadratic", "kappa": 10, "n_steps": 2, "eps": -0.1},
            "eps",
        ),
    ],
)
def test_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        pep.pep_worst_case(**kwargs)


def test_lookup_of_a_point_not_in_the_table_raises_key_error():
    with pytest.raises(KeyError):
        pep.stored_worst_case("gd", "quadratic", 10.0, 10, eps=0.05)  # quadratics: eps 0 only
    with pytest.raises(KeyError):
        pep.stored_worst_case("gd", "quadratic", 10.0, 21)
    at_zero = pep.stored_worst_case("gd", "smooth_strongly_convex", 10.0, 5, 0.0)
    at_small = pep.stored_worst_case("gd", "smooth_strongly_convex", 10.0, 5, pep.TABLE_EPS[1])
    assert at_small >= at_zero
