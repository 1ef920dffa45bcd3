"""The bad-input battery: every subcommand of the CLI and the public API of every model family,
fed wrong types, NaN and inf, empty and huge sizes, unknown names, malformed grid files and
unwritable directories. Each case must give one line naming the problem (exit status 2 from the
CLI, ValueError or TypeError from Python), no traceback, and leave every file as it was."""

import contextlib
import io
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paper_checks import catalogue, cli
from sims import growth, inexact, problems, subnetworks, sweep, text
from sims.families import boosting, deep_linear, residual_mlp, transformer
from sims.families.residual_mlp.growth import ResidualMLPFamily
from theory import flops, rates, robust_nesterov, spectral

GRIDS = {
    "ok.toml": 'family = "deep_linear"\nseeds = 1\n[parameters]\nkappa = [10.0]\nstages = [50]\n',
    "broken.toml": "family = [",
    "resnet.toml": 'family = "resnet"\n',
    "depth.toml": 'family = "deep_linear"\n[parameters]\ndepth = [3]\n',
    "scalar.toml": 'family = "deep_linear"\n[parameters]\nkappa = 10.0\n',
    "nan.toml": 'family = "deep_linear"\n[parameters]\nkappa = [nan]\n',
    "inf.toml": 'family = "boosting"\n[parameters]\nnoise = [inf]\n',
    "words.toml": 'family = "deep_linear"\n[parameters]\nkappa = ["ten"]\n',
    "fraction.toml": 'family = "deep_linear"\n[parameters]\nd = [4.5]\n',
    "number-name.toml": 'family = "boosting"\n[parameters]\nlearner = [3]\n',
    "empty-list.toml": 'family = "deep_linear"\n[parameters]\nkappa = []\n',
    "negative-seeds.toml": 'family = "deep_linear"\nseeds = -1\n',
    "word-seeds.toml": 'family = "deep_linear"\nseeds = "many"\n',
    "huge-seeds.toml": 'family = "deep_linear"\nseeds = 1000000000\n',
    "typo.toml": 'family = "deep_linear"\nsedes = 3\n',
    "gpu-boosting.toml": 'family = "boosting"\n',
    # grids whose every cell would fail: refused before any cell runs
    "kappa-half.toml": 'family = "deep_linear"\n[parameters]\nkappa = [0.5]\n',
    "negative-sigma.toml": 'family = "deep_linear"\n[parameters]\nsigma = [-0.1]\n',
    "stages-cap.toml": 'family = "deep_linear"\n[parameters]\nstages = [1000000000]\n',
    "d-zero.toml": 'family = "deep_linear"\n[parameters]\nd = [0]\n',
    "wrong-case.toml": 'family = "deep_linear"\n[parameters]\ninit = ["Stack"]\n',
    "target-big.toml": 'family = "deep_linear"\n[parameters]\ntarget = [2.0]\n',
    "huge-grid.toml": 'family = "deep_linear"\nseeds = 100000\n[parameters]\nkappa = [1.0, 2.0]\n',
    # the region families of issue 18
    "region-kappa.toml": 'family = "stacking_region"\n[parameters]\nkappa = [0.5]\n',
    "region-sigma.toml": 'family = "stacking_region"\n[parameters]\nsigma = [-0.2]\n',
    "frontier-d.toml": 'family = "stacking_frontier"\n[parameters]\nd = [0]\n',
    "frontier-criterion.toml": 'family = "stacking_frontier"\n[parameters]\ncriterion = ["fast"]\n',
    "practice-steps.toml": 'family = "stacking_practice"\n[parameters]\nsteps_per_stage = [0]\n',
    "practice-beta.toml": 'family = "stacking_practice"\n[parameters]\nbeta = ["cosine"]\n',
    "twice.toml": 'family = "deep_linear"\nseeds = [0, 0, 1]\n',
    "sigma-huge.toml": 'family = "deep_linear"\n[parameters]\nsigma = [1e300]\n',
}

CLI_CASES = [  # (arguments, a fragment the one-line message must contain)
    ([], "required"),
    (["frobnicate"], "invalid choice"),
    (["check", "--bogus"], "unrecognized"),
    (["check", "--scale", "huge"], "--scale"),
    (["check", "--only", "no-such-claim-anywhere"], "matches no claim"),
    (["check", "--workers", "0"], "--workers"),
    (["check", "--workers", "-3"], "--workers"),
    (["check", "--workers", "two"], "--workers"),
    (["check", "--workers", "100000"], "--workers"),
    (["check", "--backend", "mpi"], "--backend"),
    (["check", "--backend", "processes", "--scheduler", "tcp://h:1"], "--scheduler"),
    (["check", "--out", "blocker/sub"], "--out"),
    (["check", "--out", "blocker"], "--out"),
    (["list", "--format", "xml"], "unrecognized"),
    (["figures", "--only", "no-such-figure"], "matches no figure"),
    (["figures", "--scale", "big"], "--scale"),
    (["figures", "--out", "blocker/figs"], "--out"),
    (["pep-refresh", "--jobs", "0"], "--jobs"),
    (["pep-refresh", "--jobs", "two"], "--jobs"),
    (["pep-refresh", "--out", "blocker/sub/table.json"], "--out"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--repeats", "-1"], "--repeats"),
    (["bench", "--repeats", "nan"], "--repeats"),
    (["bench", "--section", "everything"], "--section"),
    (["sweep"], "grid file"),
    (["sweep", "missing.toml", "--out", "results"], "does not exist"),
    (["sweep", "ok.toml"], "--out"),
    (["sweep", "broken.toml", "--out", "results"], "not valid TOML"),
    (["sweep", "resnet.toml", "--out", "results"], "family"),
    (["sweep", "depth.toml", "--out", "results"], "unknown parameter 'depth'"),
    (["sweep", "scalar.toml", "--out", "results"], "non-empty list"),
    (["sweep", "empty-list.toml", "--out", "results"], "non-empty list"),
    (["sweep", "nan.toml", "--out", "results"], "finite"),
    (["sweep", "inf.toml", "--out", "results"], "finite"),
    (["sweep", "words.toml", "--out", "results"], "takes numbers"),
    (["sweep", "fraction.toml", "--out", "results"], "takes integers"),
    (["sweep", "number-name.toml", "--out", "results"], "takes names"),
    (["sweep", "negative-seeds.toml", "--out", "results"], "seeds"),
    (["sweep", "word-seeds.toml", "--out", "results"], "seeds"),
    (["sweep", "huge-seeds.toml", "--out", "results"], "seeds"),
    (["sweep", "typo.toml", "--out", "results"], "unknown grid key"),
    (["sweep", "gpu-boosting.toml", "--out", "results", "--device", "gpu"], "deep_linear"),
    (["sweep", "ok.toml", "--out", "other-sweep"], "different sweep"),
    (["sweep", "ok.toml", "--out", "not-a-sweep"], "not empty"),
    (["sweep", "ok.toml", "--out", "corrupt-sweep"], "corrupt"),
    (["sweep", "ok.toml", "--out", "blocker/results"], "cannot write"),
    (["sweep", "ok.toml", "--out", "results", "--batch", "0"], "--batch"),
    (["sweep", "ok.toml", "--out", "results", "--workers", "0"], "--workers"),
    (["sweep", "ok.toml", "--out", "results", "--backend", "mpi"], "--backend"),
    (["sweep", "--summary", "no-such-dir"], "not a directory"),
    (["sweep", "--summary", "empty-results"], "no stored rows"),
    (["sweep", "--summary", "empty-results", "--out", "x"], "--summary"),
    (["sweep", "kappa-half.toml", "--out", "results"], "kappa must be >= 1"),
    (["sweep", "negative-sigma.toml", "--out", "results"], "sigma must be >= 0"),
    (["sweep", "stages-cap.toml", "--out", "results"], "stages must be <="),
    (["sweep", "d-zero.toml", "--out", "results"], "d must be >= 1"),
    (["sweep", "wrong-case.toml", "--out", "results"], "init must be one of"),
    (["sweep", "target-big.toml", "--out", "results"], "target must be <= 1"),
    (["sweep", "huge-grid.toml", "--out", "results"], "grid too large"),
    (["sweep", "region-kappa.toml", "--out", "results"], "kappa must be >= 1"),
    (["sweep", "region-sigma.toml", "--out", "results"], "sigma must be >= 0"),
    (["sweep", "frontier-d.toml", "--out", "results"], "d must be >= 1"),
    (["sweep", "frontier-criterion.toml", "--out", "results"], "criterion must be one of"),
    (["sweep", "practice-steps.toml", "--out", "results"], "steps_per_stage must be >= 1"),
    (["sweep", "practice-beta.toml", "--out", "results"], "beta must be one of"),
    (["sweep", "ok.toml", "--out", "results", "--device", "gpu"], "CuPy"),
    (["sweep", "ok.toml", "--out", "blocker"], "is a file"),
    (["sweep", "ok.toml", "--out", ""], "empty"),
    (["sweep", "ok.toml", "--out", "results", "--plot", "x.png"], "--plot goes with --summary"),
    (["check", "--out", ""], "empty"),
    (["check", "--only", ""], "--only must not be empty"),
    (["check", "--out", "not-a-sweep"], "holds no stagewise report"),
    (["figures", "--only", ""], "--only must not be empty"),
    (["bench", "--repeats", "1000000000"], "--repeats"),
    # issue 29
    (["sweep", "twice.toml", "--out", "results"], "more than once"),
    (["sweep", "sigma-huge.toml", "--out", "results"], "sigma must be <="),
    (["sweep", "grid-dir", "--out", "results"], "is a directory"),
    (["sweep", "binary.toml", "--out", "results"], "not text"),
    (["check", "--only", "."], "too short"),
    (["check", "--scheduler", "tcp://nowhere"], "--scheduler"),
    (["sweep", "ok.toml", "--out", "results", "--scheduler", "x:y"], "--scheduler"),
    (["figures", "--only", "?"], "matches no figure"),
]


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working directory holding grid files, a plain file in the way of output directories,
    the results of another sweep, a non-empty directory and a corrupt results directory."""
    for name, grid in GRIDS.items():
        (tmp_path / name).write_text(grid)
    (tmp_path / "blocker").write_text("keep me")
    other = tmp_path / "other-sweep"
    (other / "rows").mkdir(parents=True)
    (other / "grid.json").write_text('{"family": "boosting", "seeds": [0], "parameters": {}}')
    (tmp_path / "not-a-sweep").mkdir()
    (tmp_path / "not-a-sweep" / "notes.txt").write_text("mine")
    (tmp_path / "corrupt-sweep").mkdir()
    (tmp_path / "corrupt-sweep" / "grid.json").write_text("{not json")
    (tmp_path / "empty-results").mkdir()
    (tmp_path / "grid-dir").mkdir()
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root):
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _run(argv) -> tuple[int, str]:
    """Exit status and stderr of ``stagewise argv`` run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, err.getvalue()


@pytest.mark.parametrize(
    ("argv", "fragment"), CLI_CASES, ids=[" ".join(argv) or "(none)" for argv, _ in CLI_CASES]
)
def test_cli_bad_input_is_one_line_status_2_and_touches_nothing(argv, fragment, workspace):
    before = _snapshot(workspace)
    status, err = _run(argv)
    assert status == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err
    assert _snapshot(workspace) == before


def _params():
    return residual_mlp.init_params(3, 4, 2, seed=0)


SIGMA, W_STAR = problems.deep_linear_problem(4, 10.0, 0.1, seed=0)
OBJECTIVE = inexact.random_objective(np.random.default_rng(0), 3, 10.0, True)

API_CASES = [  # (call, the argument its message must name)
    (lambda: deep_linear.train_stagewise(np.full((4, 4), np.nan), W_STAR, 10), "Sigma"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR * np.inf, 10), "W_star"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR, "10"), "stages"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR, 10**12), "stages"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR, 10, init="warm"), "init"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR[:2], 10), "W_star"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR, 10, backend="cuda"), "backend"),
    (lambda: problems.deep_linear_problem(4, 0.5, 0.1), "kappa"),
    (lambda: problems.deep_linear_problem(10**7, 10.0, 0.1), "d"),
    (lambda: problems.deep_linear_problem(0, 10.0, 0.1), "d"),
    (lambda: problems.deep_linear_problem(4, float("inf"), 0.1), "kappa"),
    (lambda: boosting.train_ensemble(np.full((5, 2), np.inf), np.zeros(5), 3), "X"),
    (lambda: boosting.train_ensemble(np.ones((5, 2)), np.zeros(5), 3, learner="svm"), "learner"),
    (lambda: boosting.train_ensemble(np.ones((5, 2)), np.zeros(4), 3), "y"),
    (lambda: boosting.train_ensemble(np.ones((0, 2)), np.zeros(0), 3), "X"),
    (lambda: boosting.train_ensemble(np.ones((5, 2)), np.zeros(5), 10**9), "stages"),
    (lambda: boosting.train_ensemble(np.ones((5, 2)), np.zeros(5), 3, loss="hinge"), "loss"),
    (lambda: residual_mlp.init_params(3, 0, 2, seed=0), "width"),
    (lambda: residual_mlp.init_params(3, 10**6, 10**6, seed=0), "width and depth"),
    (lambda: residual_mlp.forward(_params(), np.ones((2, 3)), mask=[1, 2]), "mask"),
    (lambda: residual_mlp.forward(_params(), np.ones((2, 3)), mask=[1, 1, 1]), "mask"),
    (lambda: residual_mlp.loss_and_grads(_params(), np.full((2, 3), np.nan), np.ones(2)), "X"),
    (lambda: residual_mlp.train(_params(), np.ones((4, 3)), np.ones(4), 0), "steps"),
    (
        lambda: residual_mlp.train(_params(), np.ones((4, 3)), np.ones(4), 5, optimizer="lbfgs"),
        "optimizer",
    ),
    (lambda: subnetworks.raptr_schedule(8, [6, 4], 100), "path_lengths"),
    (lambda: subnetworks.raptr_schedule(8, [1, 8], 100), "path_lengths"),
    (lambda: subnetworks.calibrate_pld(8, 100, 1.5), "budget"),
    (lambda: subnetworks.calibrate_pld(8, 100, 0.0), "budget"),
    (lambda: problems.staircase_task(5, 7), "degrees"),
    (lambda: growth.prop_alpha(-5, 3, 1.0), "total_steps"),
    (lambda: growth.grow([{"W": np.zeros((2, 2))}], "teleport"), "operator"),
    (lambda: spectral.worst_case_ratio("nag", 0.5, 3), "kappa"),
    (lambda: spectral.worst_case_ratio("nag", float("nan"), 3), "kappa"),
    (lambda: spectral.worst_case_ratio("adam", 10.0, 3), "method"),
    (lambda: spectral.worst_case_ratio("gd", 10.0, -1), "n_steps"),
    (lambda: rates.predicted_steps("nag", 10.0, 2.0), "eps"),
    (lambda: flops.stacking_relative_flops([1, 2], [0.5]), "fractions"),
    (lambda: robust_nesterov.contraction(0.5), "kappa"),
    (lambda: inexact.run_inexact_nag(OBJECTIVE, np.zeros(3), 5, -0.1), "eps"),
    (lambda: inexact.run_inexact_nag(OBJECTIVE, np.zeros(3), 5, 0.1, "hessian"), "placement"),
    (lambda: sweep.parse_grid({"family": "deep_linear", "parameters": {"kappa": [None]}}), "kappa"),
    (lambda: sweep.run_sweep(GRIDS_DICT, "unused", backend="mpi"), "backend"),
    # size caps and silent wrong input
    (lambda: spectral.worst_case_ratio("nag", 10.0, 10**6), "n_steps"),
    (lambda: spectral.worst_case_ratio("gd", 10.0, 10**13), "n_steps"),
    (lambda: subnetworks.raptr_schedule(8, [6, 8], 10**12), "total_steps"),
    (lambda: subnetworks.pld_schedule(8, 10**12), "total_steps"),
    (lambda: deep_linear.train_stagewise(np.eye(4100), np.eye(4100), 3), "Sigma"),
    (lambda: deep_linear.train_stagewise(SIGMA, W_STAR, 10**8, init="random"), "stages x d x d"),
    (lambda: growth.stage_depths("progressive", 1, 200), "n_stages"),
    (lambda: growth.prop_alpha(100, 4, 1e6), "alpha"),
    (lambda: problems.deep_linear_problem(4, 1e17, 0.1), "kappa"),
    (lambda: deep_linear.train_stagewise(SIGMA + 0j, W_STAR, 3), "Sigma"),
    (lambda: boosting.train_ensemble(np.ones((5, 2)) * 1j, np.zeros(5), 3), "X"),
    (lambda: residual_mlp.forward(_params(), np.ones((2, 3)) + 1j), "X"),
    # issue 29: messages that did not name the argument, and input that was accepted
    (lambda: inexact.run_inexact_nag(OBJECTIVE, np.zeros(4), 5, 0.1), "x0"),
    (lambda: inexact.random_objective(np.random.default_rng(0), 0, 10.0), "d must be >= 1"),
    (lambda: inexact.random_objective("zero", 3, 10.0), "seed"),
    (lambda: inexact.random_objective(np.random.default_rng(0), 3, 0.5), "kappa"),
    (lambda: transformer.load_checkpoint(GARBAGE), "path"),
    (lambda: text.dyck(np.random.default_rng(0), -1, 16), "count"),
    (lambda: text.mixture(np.random.default_rng(0), 2, 1), "length"),
    (lambda: growth.train_grown(*_GROWN, 100, lr=0.1), "stage_steps"),
    (lambda: growth.train_grown(*_GROWN, "100", lr=0.1), "stage_steps"),
    (lambda: growth.train_grown(*_GROWN, [5], lr=-1), "lr"),
    (lambda: growth.train_adaptive(_GROWN[0], _GROWN[1], ["gradual"], [5], 1, lr=0.0), "lr"),
    (lambda: robust_nesterov.decrease_bound(-1.0, 10.0), "phi"),
    (lambda: robust_nesterov.decrease_bound(1.0, 10.0, error_term=np.nan), "error_term"),
    (lambda: problems.deep_linear_problem(4, 10.0, 1e300), "sigma"),
    (
        lambda: boosting.train_ensemble(
            np.ones((5, 2)), np.zeros(5), 3, learner="tree", coef0=np.zeros(2)
        ),
        "coef0",
    ),
]
GRIDS_DICT = {"family": "deep_linear", "parameters": {"stages": [5]}}
GARBAGE = Path(__file__).resolve()  # a file that is no checkpoint
_X = np.random.default_rng(0).standard_normal((8, 3))
_GROWN = (ResidualMLPFamily(_X, _X[:, 0], _X, _X[:, 0], 2), ResidualMLPFamily.model(
    residual_mlp.init_params(3, 4, 1, seed=0)), "gradual")  # fmt: skip


@pytest.mark.parametrize(
    ("call", "argument"), API_CASES, ids=[f"{i}-{arg}" for i, (_, arg) in enumerate(API_CASES)]
)
def test_api_bad_input_raises_one_line_naming_the_argument(call, argument, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert argument in message
    assert list(tmp_path.iterdir()) == []


def _validate_only(args) -> int:
    """Stand-in for the commands: the parsing and the cheap validation, none of the work."""
    if args.command == "check":
        catalogue.select(args.only, args.scale)
    if args.command in ("check", "sweep"):
        cli.common.engine(args)
    return 0


TOKENS = st.sampled_from(
    ["check", "list", "figures", "pep-refresh", "bench", "sweep", "--scale", "quick", "paper",
     "--only", "nesterov.*", "--out", "--json", "--workers", "--backend", "inprocess",
     "processes", "dask", "--scheduler", "--jobs", "--repeats", "--section", "all", "--summary",
     "--batch", "--device", "gpu", "--plot", "-1", "0", "2", "nan", "1e9", "", "-", "--"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TOKENS, st.text(max_size=12)), max_size=8))
def test_fuzzed_command_lines_exit_cleanly(argv):
    with mock.patch.dict(cli.COMMANDS, dict.fromkeys(cli.COMMANDS, _validate_only)):
        status, err = _run(argv)
    assert status in (0, 2)
    assert "Traceback" not in err
    if status == 2:
        assert len(err.strip().splitlines()) == 1, err
