"""``stagewise check`` on the sweep engine: grouping, bit-identical claims.json across runs and
backends, and resumption after the process is killed."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.engine import DamagedResultWarning
from paper_checks import catalogue, registry, runner
from paper_checks.cli import main
from tests.helpers import stagewise

# two groups (stacking.stages-table, of which two claims, and stacking.random-init-plateau), both
# with interval statistics and controls, and two figures; the cheapest such selection (it runs six
# times). It was "stacking.[amrt]*" until later claims (the acceleration region, the transformer)
# matched it too and made this test the suite's longest.
SELECTION = "stacking.[amr][ac]*"


def test_plan_puts_claims_sharing_an_experiment_in_one_task(tmp_path):
    claims = catalogue.select(None, "paper")
    tasks = runner.plan(claims, "paper", tmp_path)
    by_group = {t.group: t for t in tasks}
    assert set(by_group["growth.speed-runs"].claim_ids) == {
        "growth.looped",
        "growth.position",
        "growth.speed",
    }
    assert by_group["growth.adaptive-runs"].claim_ids == ("growth.adaptive",)
    assert sorted(i for t in tasks for i in t.claim_ids) == sorted(c.id for c in claims)
    drawn = [name for t in tasks for name in t.figures]
    assert len(drawn) == len(set(drawn))  # each figure drawn once
    assert set(drawn) == {name for c in claims for name in c.figures}
    assert [t.minutes for t in tasks] == sorted((t.minutes for t in tasks), reverse=True)


def _check(out, *backend):
    status = main(["check", "--only", SELECTION, "--out", str(out), *backend])
    assert status in (0, 1)
    assert not list((out / runner.TASKS_DIR).glob("*.pickle"))  # seeds: removed with the report
    return (out / "claims.json").read_bytes()


def test_claims_json_is_bit_identical_across_runs_and_backends(tmp_path):
    pytest.importorskip("distributed")
    first = _check(tmp_path / "processes-1")
    assert _check(tmp_path / "processes-2") == first
    assert _check(tmp_path / "inprocess", "--backend", "inprocess") == first
    assert _check(tmp_path / "dask", "--backend", "dask", "--workers", "2") == first
    document = json.loads(first)
    assert len(document["claims"]) == len(catalogue.select(SELECTION, "quick"))


# The run to kill: its second group waits a minute before it starts, so that the kill lands
# after the first group is stored however fast the groups are (with warm kernels the whole
# selection once finished between two polls, and the test waited for a file that was gone).
STALLED_CHECK = """
import sys, time
from paper_checks import cli, runner
started = []
def stalled(task):
    if started:
        time.sleep(60)
    started.append(task)
    return run_task(task)
run_task, runner.run_task = runner.run_task, stalled
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_killed_check_resumes_from_its_stored_groups(tmp_path):
    out = tmp_path / "killed"
    arguments = ["check", "--only", SELECTION, "--out", str(out), "--backend", "inprocess"]
    proc = subprocess.Popen([sys.executable, "-c", STALLED_CHECK, *arguments],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not list((out / runner.TASKS_DIR).glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = list((out / runner.TASKS_DIR).glob("*.json"))
    assert stored, "no group was stored before the deadline"
    assert not (out / "claims.json").exists()
    for path in stored:  # only complete files: written to a temporary file, then renamed
        assert json.loads(path.read_text())["verdicts"]

    resumed = stagewise(*arguments)
    assert resumed.returncode in (0, 1), resumed.stderr
    assert "reused" in resumed.stderr
    fresh = _check(tmp_path / "fresh", "--backend", "inprocess")
    assert (out / "claims.json").read_bytes() == fresh


def test_stored_groups_of_other_code_or_without_their_figures_are_not_reused(tmp_path):
    claims = catalogue.select("nesterov.worst-case-*", "quick")
    out = tmp_path / "out"
    runner.run_check(claims, "quick", out, backend="inprocess")
    _, _, _, reused = runner.run_check(claims, "quick", out, backend="inprocess")
    assert reused == 2
    stored = out / runner.TASKS_DIR / "nesterov.worst-case-bound.json"
    stored.write_text(stored.read_text().replace('"fingerprint": "', '"fingerprint": "x'))
    _, _, _, reused = runner.run_check(claims, "quick", out, backend="inprocess")
    assert reused == 1
    (out / "figures" / "worst-case-vs-steps.pdf").unlink()  # say, by a later --only run
    _, _, _, reused = runner.run_check(claims, "quick", out, backend="inprocess")
    assert reused == 1
    assert (out / "figures" / "worst-case-vs-steps.pdf").exists()  # drawn again
    _, _, _, reused = runner.run_check(claims[:1], "paper", out, backend="inprocess")
    assert reused == 0  # another scale


def test_an_edit_to_one_claims_module_changes_the_fingerprints_of_its_groups_only(
    tmp_path, monkeypatch
):
    tasks = runner.plan(catalogue.all_claims(), "paper", tmp_path)
    before = runner.fingerprints(tasks)
    sources = runner.package_sources()
    # where each claim and figure is registered, read from the modules' text (not __module__)
    defined_in = {}
    for path, data in sources.items():
        if path.parent == runner.CLAIMS_DIR:
            text = data.decode()
            for name in re.findall(r'\bid="([^"]+)"', text) + re.findall(
                r'@figure\(\s*"([^"]+)"', text
            ):
                defined_in[name] = path
    assert {n for t in tasks for n in (*t.claim_ids, *t.figures)} <= set(defined_in)

    def edited(target: Path) -> dict[str, str]:
        assert target in sources
        edit = {p: d + b"\n# an edit\n" if p == target else d for p, d in sources.items()}
        monkeypatch.setattr(runner, "package_sources", lambda: edit)
        return runner.fingerprints(tasks)

    for module in ("boosting.py", "transformer.py", "nesterov.py"):
        target = runner.CLAIMS_DIR / module
        after = edited(target)
        mine = {
            t.group for t in tasks if target in {defined_in[n] for n in (*t.claim_ids, *t.figures)}
        }
        assert mine
        assert {g for g in before if after[g] != before[g]} == mine
    for shared in (Path("sims", "optim.py"), runner.CLAIMS_DIR / "__init__.py"):
        after = edited(shared)
        assert all(after[g] != before[g] for g in before)


def _as_stored(verdict):
    return json.dumps({k: v for k, v in verdict.as_dict().items() if k != "seconds"})


def test_an_experiments_seeds_run_as_tasks_and_its_claims_get_what_one_process_computes(tmp_path):
    claims = catalogue.select("stacking.transformer-zero-block", "quick")
    experiment = registry.EXPERIMENTS[claims[0].group]
    tasks = runner.plan(claims, "quick", tmp_path)
    seeds = runner.shards(tasks)
    assert [s.index for s in seeds] == list(range(experiment.count("quick")))
    assert sum(s.minutes for s in seeds) == pytest.approx(tasks[0].minutes)
    labels = []
    verdicts, *_ = runner.run_check(claims, "quick", tmp_path, backend="processes", workers=2,
                                    on_task=lambda label, total: labels.append((label, total)))  # fmt: skip
    assert labels[0] == (None, len(seeds) + 1)  # before anything runs
    assert labels[-1] == (claims[0].id, len(seeds) + 1)  # the group's task after its seeds
    assert sum("seeds" in label for label, _ in labels[1:]) == len(seeds)
    # the seeds ran in the workers; here the claim computes the whole experiment itself
    assert _as_stored(verdicts[0]) == _as_stored(registry.run_claim(claims[0], "quick"))


def test_an_experiment_takes_runs_only_for_each_of_its_seeds():
    experiment = registry.EXPERIMENTS["stacking.transformer-runs"]
    with pytest.raises(ValueError, match="runs for"):
        experiment.provide("quick", [])
    with pytest.raises(ValueError, match="two experiments"):
        registry.Experiment("stacking.transformer-runs", experiment.count, experiment.run_seed)


def test_an_interrupted_check_keeps_the_seeds_it_finished(tmp_path, monkeypatch):
    claims = catalogue.select("stacking.transformer-zero-block", "quick")
    count = registry.EXPERIMENTS[claims[0].group].count("quick")

    def interrupted(task):
        raise KeyboardInterrupt  # a Ctrl-C once every seed has run, before the group's claims

    monkeypatch.setattr(runner, "run_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run_check(claims, "quick", tmp_path, backend="inprocess")
    monkeypatch.undo()
    stored = sorted((tmp_path / runner.TASKS_DIR).glob("*.pickle"))
    assert len(stored) == count
    stored[0].write_bytes(b"not a pickle")  # damaged: set aside, that seed runs again
    ran = []

    def counted(unit):
        ran.append(unit)
        return run_unit(unit)

    run_unit = runner.run_unit
    monkeypatch.setattr(runner, "run_unit", counted)
    with pytest.warns(DamagedResultWarning, match="seed-"):
        verdicts, *_ = runner.run_check(claims, "quick", tmp_path, backend="inprocess")
    assert [type(u).__name__ for u in ran] == ["Shard"]
    assert _as_stored(verdicts[0]) == _as_stored(registry.run_claim(claims[0], "quick"))
