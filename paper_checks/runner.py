"""``stagewise check`` on the sweep engine: one task per claim group, run in-process, in local
processes or on a Dask cluster (``infra.engine.execute``), resumable and incremental.

A task runs the claims of one group (claims that share a cached experiment) in one process, then
draws the figures they name while that experiment is still in memory. A group whose experiment is a
``registry.Experiment`` (independent runs, one per seed) first has its seeds run as tasks of their
own (``Shard``), beside the other groups; its task then gets their runs. Each finished task is stored
as ``DIR/.tasks/<group>.json`` (temporary file, then rename) with the group's fingerprint
(``fingerprints``: the sources it can depend on, the library versions, the CPU model), each
finished seed as a pickle named by its group, scale, index and that fingerprint. A check run again
in the same directory with the same scale and selection skips every group whose fingerprint is
unchanged and whose figures are still there: an interrupted run resumes, and after a change to one
claims module only that module's groups run again. Every result, fresh or stored, is read back
from that JSON text, so the report is the same whichever backend ran it. Once the report is
written the seeds are removed and the groups' results kept.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from infra.engine import atomic_write, execute, set_aside, versions, write_text_atomic
from paper_checks import catalogue, registry

PACKAGES = ("infra", "theory", "sims", "figures", "paper_checks")
CLAIMS_DIR = Path("paper_checks", "claims")  # one module per family of claims
TASKS_DIR = ".tasks"


@dataclass(frozen=True)
class Task:
    group: str
    claim_ids: tuple[str, ...]
    figures: tuple[str, ...]
    scale: str
    figures_dir: str
    minutes: float
    runs: tuple = ()  # the group's experiment, run as shards (empty: the task runs it)
    runs_seconds: float = 0.0  # the shards' times, summed


@dataclass(frozen=True)
class Shard:
    """Seed ``index`` of the ``registry.Experiment`` of claim group ``group``."""

    group: str
    index: int
    scale: str
    minutes: float


def shards(tasks: list[Task]) -> list[Shard]:
    """The seeds of the tasks' groups that have a ``registry.Experiment``, each with its share of
    the group's minutes."""
    out = []
    for task in tasks:
        experiment = registry.EXPERIMENTS.get(task.group)
        if experiment is not None:
            count = experiment.count(task.scale)
            out += [Shard(task.group, i, task.scale, task.minutes / count) for i in range(count)]
    return out


def plan(claims: list[registry.Claim], scale: str, figures_dir: Path) -> list[Task]:
    """One task per group of ``claims``, each figure drawn by the first group naming it; longest
    groups first (by their ``minutes``), so that a pool of workers finishes close together."""
    members: dict[str, list[registry.Claim]] = {}
    for c in claims:
        members.setdefault(c.group, []).append(c)
    assigned: set[str] = set()
    tasks = []
    for group, group_claims in members.items():
        names = [n for c in group_claims for n in c.figures if n not in assigned]
        names = list(dict.fromkeys(names))
        assigned.update(names)
        tasks.append(
            Task(
                group,
                tuple(c.id for c in group_claims),
                tuple(names),
                scale,
                str(figures_dir),
                sum(c.minutes for c in group_claims),
            )
        )
    return sorted(tasks, key=lambda t: -t.minutes)


def draw_figures(names, scale: str, out_dir: Path) -> tuple[dict, list[str]]:
    """Draw the gallery recipes ``names`` into ``out_dir`` (PNG and PDF). Returns
    ``{name: [relative png path, caption]}`` and one line per figure that could not be drawn."""
    from figures.style import save, styled

    drawn, problems = {}, []
    for name in names:
        recipe = catalogue.figures()[name]
        try:
            with styled():
                save(recipe.draw(scale), Path(out_dir) / name)
        except Exception as exc:  # a broken figure is reported, it does not sink the run
            problems.append(
                f"figure {name!r} could not be drawn ({' '.join(f'{type(exc).__name__}: {exc}'.split())})"
            )
            continue
        drawn[name] = [f"{Path(out_dir).name}/{name}.png", recipe.caption]
    return drawn, problems


def draw_figure_task(task: tuple[str, str, str]) -> tuple[dict, list[str]]:
    """``(name, scale, out_dir)``: one figure of ``stagewise figures``, as a task of the engine."""
    name, scale, out_dir = task
    return draw_figures([name], scale, Path(out_dir))


def _seed_path(state: Path, shard: Shard, fingerprint: str) -> Path:
    return state / f"{shard.group}.{shard.scale}.seed-{shard.index}.{fingerprint[:16]}.pickle"


def _stored_seeds(
    state: Path, seeds: list[Shard], fingerprint: dict[str, str]
) -> dict[Shard, tuple]:
    """(run, seconds) of the ``seeds`` stored by an interrupted run under their group's fingerprint
    (by their file names); an unreadable file is set aside (``infra.engine.set_aside``) and its seed runs again. The files
    are this run's own output directory's, written by ``stagewise check`` itself."""
    out = {}
    for shard in seeds:
        path = _seed_path(state, shard, fingerprint[shard.group])
        if path.exists():
            try:
                out[shard] = pickle.loads(path.read_bytes())
            except Exception as exc:  # truncated, or not a pickle: run the seed again
                set_aside(path, " ".join(f"{type(exc).__name__}: {exc}".split())[:200])
    return out


def run_unit(unit: Task | Shard) -> dict:
    """A shard's run and its time (``{"shard": unit, "run": ..., "seconds": ...}``) or a task's
    result (``run_task``)."""
    if isinstance(unit, Shard):
        start = time.perf_counter()
        run = registry.EXPERIMENTS[unit.group].run_seed(unit.scale, unit.index)
        return {"shard": unit, "run": run, "seconds": time.perf_counter() - start}
    return run_task(unit)


def run_task(task: Task) -> dict:
    """Run a task's claims, then draw its figures (in whichever process runs the task)."""
    by_id = {c.id: c for c in catalogue.all_claims()}
    if task.runs:
        registry.EXPERIMENTS[task.group].provide(task.scale, list(task.runs))
    verdicts = [registry.run_claim(by_id[i], task.scale) for i in task.claim_ids]
    # the first claim runs the shared experiment, or its shards ran it
    group_seconds = task.runs_seconds + sum(v.seconds for v in verdicts)
    figures, problems = draw_figures(task.figures, task.scale, Path(task.figures_dir))
    return {
        "group": task.group,
        "claim_ids": list(task.claim_ids),
        "verdicts": [
            {**v.as_dict(), "seconds": group_seconds, "shared_by": len(verdicts)} for v in verdicts
        ],
        "figures": figures,
        "problems": problems,
    }


def package_sources() -> dict[Path, bytes]:
    """The packages' Python sources and data files, by path relative to the project root."""
    root = Path(registry.__file__).resolve().parent.parent
    return {
        path.relative_to(root): path.read_bytes()
        for package in PACKAGES
        for path in sorted((root / package).rglob("*"))
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts
    }


def cpu_model() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what ``platform`` knows of it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _defining_files(task: Task) -> set[Path]:
    """The files of the modules that define a group's claims, figures and experiment."""
    functions = [c.measure for c in catalogue.all_claims() if c.id in task.claim_ids]
    functions += [catalogue.figures()[name].draw for name in task.figures]
    if task.group in registry.EXPERIMENTS:
        functions.append(registry.EXPERIMENTS[task.group].run_seed)
    return {Path(sys.modules[f.__module__].__file__).resolve() for f in functions}


def fingerprints(tasks: list[Task]) -> dict[str, str]:
    """Per group, SHA-256 over what its results can depend on: every source of the packages but
    the claims modules (``CLAIMS_DIR``), the claims modules that define the group's claims,
    figures and experiment (claims modules import none of one another: an import-linter
    contract), the library versions (``infra.engine.versions``), Python's version and the CPU
    model. Results stored under another fingerprint are never reused."""
    root = Path(registry.__file__).resolve().parent.parent
    sources = package_sources()
    shared = hashlib.sha256()
    for path, data in sources.items():
        if path.parent != CLAIMS_DIR or path.name == "__init__.py":
            shared.update(str(path).encode() + b"\0" + data)
    shared.update(json.dumps([versions(), platform.python_version(), cpu_model()]).encode())
    out = {}
    for task in tasks:
        digest = shared.copy()
        for path in sorted(_defining_files(task)):
            name = path.relative_to(root) if path.is_relative_to(root) else path
            data = sources[name] if name in sources else path.read_bytes()
            digest.update(str(name).encode() + b"\0" + data)
        out[task.group] = digest.hexdigest()
    return out


def _stored(state: Path, tasks: list[Task], fingerprint: dict[str, str]) -> dict[str, dict]:
    """Results stored by an earlier or interrupted run under the groups' fingerprints, of the same
    scale and selection, whose figures are still in the report's directory; a damaged file is set
    aside (``infra.engine.set_aside``) and its task runs again."""
    out = {}
    for task in tasks:
        path = state / f"{task.group}.json"
        if not path.exists():
            continue
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(result, dict):
                raise ValueError(f"a JSON {type(result).__name__}, not an object")
        except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
            set_aside(path, " ".join(f"{type(exc).__name__}: {exc}".split())[:200])
            continue
        drawn = [state.parent / png for png, _ in (result.get("figures") or {}).values()]
        if (result.get("fingerprint"), result.get("scale"), result.get("claim_ids")) == (
            fingerprint[task.group],
            task.scale,
            list(task.claim_ids),
        ) and all(p.exists() and p.with_suffix(".pdf").exists() for p in drawn):
            out[task.group] = result
    return out


def run_check(
    claims: list[registry.Claim],
    scale: str,
    out: Path,
    backend: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    on_task: Callable[[str, int], None] | None = None,
) -> tuple[list[registry.Verdict], dict, list[str], int]:
    """Run ``claims`` at ``scale`` with figures into ``out/figures``, skipping tasks stored by an
    interrupted run: first the shards (``shards``) beside the groups without any, then the
    sharded groups' tasks with their runs. Returns the verdicts (in the order of ``claims``), the
    drawn figures, the problems met while drawing, and how many tasks were reused (``_stored``).
    ``on_task(label, total)`` runs once before the first task (label None) and after each task
    or shard (``total``: how many this run has)."""
    state = out / TASKS_DIR
    state.mkdir(parents=True, exist_ok=True)
    tasks = plan(claims, scale, out / "figures")
    fingerprint = fingerprints(tasks)
    results = _stored(state, tasks, fingerprint)
    reused = len(results)
    todo = [t for t in tasks if t.group not in results]
    seeds = shards(todo)
    runs: dict[str, dict[int, object]] = {s.group: {} for s in seeds}
    runs_seconds = Counter()
    for shard, (run, seconds) in _stored_seeds(state, seeds, fingerprint).items():
        runs[shard.group][shard.index] = run
        runs_seconds[shard.group] += seconds
    counts = Counter(s.group for s in seeds)
    seeds = [s for s in seeds if s.index not in runs[s.group]]
    total = len(todo) + len(seeds)

    def record(result: dict) -> None:
        if "shard" in result:
            shard = result["shard"]
            runs[shard.group][shard.index] = result["run"]
            runs_seconds[shard.group] += result["seconds"]
            data = pickle.dumps((result["run"], result["seconds"]))
            path = _seed_path(state, shard, fingerprint[shard.group])
            atomic_write(path, lambda tmp: tmp.write_bytes(data))
            label = f"{shard.group}: {len(runs[shard.group])} of {counts[shard.group]} seeds"
        else:
            key = fingerprint[result["group"]]
            text = json.dumps({"fingerprint": key, "scale": scale, **result}, indent=1)
            write_text_atomic(state / f"{result['group']}.json", text + "\n")
            results[result["group"]] = json.loads(text)
            label = ", ".join(result["claim_ids"])
        if on_task is not None:
            on_task(label, total)

    if on_task is not None:
        on_task(None, total)
    first = sorted([t for t in todo if t.group not in runs] + seeds, key=lambda u: -u.minutes)
    execute(run_unit, first, record, backend, workers, scheduler)
    then = [replace(t, runs=tuple(runs[t.group][i] for i in range(len(runs[t.group]))),
                    runs_seconds=runs_seconds[t.group]) for t in todo if t.group in runs]  # fmt: skip
    execute(run_task, then, record, backend, workers, scheduler)
    stored = {v["id"]: v for r in results.values() for v in r["verdicts"]}
    verdicts = [registry.Verdict.from_dict(c, scale, stored[c.id]) for c in claims]
    figures = {name: tuple(v) for r in results.values() for name, v in r["figures"].items()}
    problems = [p for t in tasks for p in results[t.group]["problems"]]
    return verdicts, figures, problems, reused


def finish(out: Path) -> None:
    """Drop the stored seeds once the report that holds their groups' results is written; the
    groups' results stay, for the next check in ``out`` to reuse (``_stored``)."""
    for path in (out / TASKS_DIR).glob("*.pickle"):
        path.unlink(missing_ok=True)
