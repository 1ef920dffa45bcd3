"""The claims registry: what each claim states, where it comes from, how it is measured, and the
two controls that show the measurement can tell true from false.

A claim is registered with the ``claim`` decorator on ``measure(scale, **options) ->
Measurement``, whose keyword options default to the system the statement is about. The same
measurement runs on three arms:

* ``claim``: the measure with its defaults;
* ``positive``: a reference for which the statement holds by construction (exact NAG on the same
  instances, a closed form, a planted effect). It must come out ``supported``;
* ``negative``: a variant for which the statement is false by construction (beta = 0, a perturbed
  recursion, no planted effect). It must come out ``refuted``.

A control is data: ``Control(text, **options)``, the sentence saying what it applies the
measurement to and the options that make the measure do so; the measure never asks which arm
it runs. A measure that draws random numbers names an ``rng`` option: it gets a fresh copy of the
claim's generator on every arm.

The verdict is the claim arm's decision (``supported`` / ``refuted`` / ``inconclusive``, read from
the intervals of its statistics against the bands of ``expect``) when both controls behave, and
``mis-posed`` when either does not: a measurement that fails a control says nothing about the
paper. A claim may also name *preconditions* (``requires``): statistics of its claim arm that must
be supported for the testbed to be able to show the effect at all (e.g. growth must use the added
depth); when one is not, the verdict is ``mis-posed`` as well. ``error`` when any arm raised.

A control is *measured* (the measurement applied to a second system: a known-better method, a
broken variant) or *planted* (the claim arm's numbers shifted by a constant, which tests only the
band arithmetic and the spread); its text starts with ``planted`` then (``partly planted``: a
later part of it is), and the report says which. Figure recipes are registered with ``figure``
next to the claims whose data they draw.
"""

from __future__ import annotations

import inspect
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paper_checks import expect as ex
from paper_checks.measure import generator

PROVENANCES = ("paper", "secondary", "reconstructed", "standard")
SCALES = ("quick", "paper")
ARMS = ("claim", "positive", "negative")
CONTROL_EXPECTED = {"positive": "supported", "negative": "refuted"}


@dataclass(frozen=True)
class Measurement:
    """What one arm of a measurement returns: named statistics with intervals, the numbers behind
    them, and a one-line summary."""

    statistics: dict[str, ex.Estimate]
    measured: dict[str, Any]
    summary: str


@dataclass(frozen=True, init=False)
class Control:
    """A control arm: ``text`` says what the measurement is applied to; ``options`` are the
    measure's keyword options that make it so (the claim arm runs the measure's defaults)."""

    text: str
    options: dict[str, Any]

    def __init__(self, text: str, **options):
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "options", options)


@dataclass(frozen=True)
class Revision:
    """A change of a claim's measurement: the revision it made, and what changed and why."""

    number: int
    change: str


@dataclass(frozen=True)
class Claim:
    """A checkable statement with its source, provenance tag, measurement, bands and controls.

    ``measurement`` says in words what the statistics are; ``expect`` maps each statistic to its
    band; ``positive`` and ``negative`` say what the controls apply the measurement to, and
    ``options[arm]`` are the measure's keyword options on that arm (none on the claim arm).
    ``must_hold``: a textbook fact or exact identity, whose failure at the quick scale is a bug of
    the suite (not a finding). ``revisions``: every change of the measurement after revision 1."""

    id: str
    source: str
    provenance: str
    statement: str
    measurement: str
    expect: dict[str, ex.Band]
    positive: str
    negative: str
    measure: Callable[..., Measurement]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per arm; none: defaults
    scales: tuple[str, ...] = SCALES
    figures: tuple[str, ...] = ()
    group: str = ""  # claims of one group share a cached experiment and run in one process
    minutes: float = 0.0  # rough paper-scale cost of the group; long groups are started first
    must_hold: bool = False
    revisions: tuple[Revision, ...] = ()
    requires: dict[str, ex.Band] = field(default_factory=dict)
    why_planted: str = ""

    @property
    def expected(self) -> str:
        """The expectation in words, rendered from the bands that decide it."""
        needs = f"; preconditions: {ex.render(self.requires)}" if self.requires else ""
        return f"{self.measurement}: {ex.render(self.expect)}{needs}"

    @property
    def control_kinds(self) -> dict[str, str]:
        """Per control arm, ``planted`` (its text starts with 'planted'), ``partly planted`` (a
        later part of it is planted) or ``measured``."""

        def kind(text):
            if text.startswith("planted"):
                return "planted"
            return "partly planted" if "planted" in text else "measured"

        return {"positive": kind(self.positive), "negative": kind(self.negative)}

    @property
    def revision(self) -> int:
        return 1 + len(self.revisions)

    def rng(self) -> np.random.Generator:
        """The claim's own generator: seeded from its id, so every run gives the same numbers
        (and every arm sees the same instances)."""
        return generator(self.id)

    def run(self, scale: str, arm: str = "claim") -> Measurement:
        """The measurement on one arm: the measure with that arm's options, and a fresh copy of
        the claim's generator where the measure takes an ``rng``."""
        options = dict(self.options.get(arm, {}))
        if "rng" in inspect.signature(self.measure).parameters:
            options["rng"] = self.rng()
        return self.measure(scale, **options)


@dataclass(frozen=True)
class ArmResult:
    """One arm's outcome: its ``decision`` from the bands, the ``statistics`` the claim's bands
    and preconditions read, each one's decision, and the arm's summary line."""

    decision: str
    statistics: dict[str, ex.Estimate]
    decisions: dict[str, str]
    summary: str

    def as_dict(self) -> dict:
        """JSON-safe data (``from_dict`` reads it back), as ``claims.json`` stores an arm."""
        return plain({"decision": self.decision,
                      "statistics": {k: e.as_dict() for k, e in self.statistics.items()},
                      "decisions": self.decisions, "summary": self.summary})  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> ArmResult:
        statistics = {k: ex.Estimate.from_dict(e) for k, e in data["statistics"].items()}
        return cls(data["decision"], statistics, dict(data["decisions"]), data["summary"])


@dataclass(frozen=True)
class Verdict:
    """A claim's result at one scale. ``arms[arm]``: that arm's ``ArmResult``; ``measured``: the
    claim arm's numbers; ``reason``: one sentence saying why the verdict is what it is;
    ``seeds_needed``: per statistic, the seeds a power calculation from the measured spread asks
    for (None for exact statistics); for a control arm left inconclusive, also per undecided
    statistic of it (``"<arm> control: <statistic>"``)."""

    claim: Claim
    scale: str
    verdict: str
    arms: dict[str, ArmResult] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    reason: str = ""
    seeds_needed: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0
    shared_by: int = 1  # claims of one group share one experiment: seconds is the group's time

    def as_dict(self) -> dict:
        """The result as JSON-safe data, with the claim's id; ``from_dict`` reads it back."""
        fields = {k: plain(getattr(self, k)) for k in RESULT_FIELDS}
        arms = {arm: result.as_dict() for arm, result in self.arms.items()}
        return {"id": self.claim.id, **fields, "arms": arms}

    @classmethod
    def from_dict(cls, claim: Claim, scale: str, data: dict) -> Verdict:
        fields = {k: data[k] for k in RESULT_FIELDS}
        arms = {arm: ArmResult.from_dict(result) for arm, result in data["arms"].items()}
        return cls(claim, scale, arms=arms, **fields)


RESULT_FIELDS = (
    "verdict",
    "measured",
    "summary",
    "reason",
    "seeds_needed",
    "seconds",
    "shared_by",
)  # besides the arms


def plain(value):
    """JSON-safe copy: numpy scalars and arrays to Python, non-finite floats to strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


REGISTRY: dict[str, Claim] = {}


@dataclass(frozen=True)
class Recipe:
    name: str
    caption: str
    draw: Callable[[str], object]  # scale -> matplotlib Figure


FIGURES: dict[str, Recipe] = {}

# how to install what a claim may import beyond the main dependencies
INSTALL_HINTS = {
    "PEPit": "pip install 'stagewise[pep]'",
    "cvxpy": "pip install 'stagewise[pep]'",
    "distributed": "pip install 'stagewise[dist]'",
    "cupy": "pip install 'stagewise[gpu]'",
    "torch": "pip install torch",
}


EXPERIMENTS: dict[str, Experiment] = {}


class Experiment:
    """A claim group's shared experiment made of independent runs, one per seed:
    ``run_seed(scale, index)`` for ``index < count(scale)``. Calling it, ``experiment(scale)``,
    gives the list of runs (computed once per process). ``stagewise check`` runs the seeds as tasks
    of their own, spread over its workers, and ``provide``s the list to the group's task, so that a
    long group does not hold one core while the others idle; a run must therefore depend only on
    its scale and index."""

    def __init__(
        self, group: str, count: Callable[[str], int], run_seed: Callable[[str, int], Any]
    ):
        if group in EXPERIMENTS:
            raise ValueError(f"group {group!r} has two experiments")
        self.group, self.count, self.run_seed = group, count, run_seed
        self._runs: dict[str, list] = {}
        EXPERIMENTS[group] = self

    def __call__(self, scale: str) -> list:
        if scale not in self._runs:
            self._runs[scale] = [self.run_seed(scale, i) for i in range(self.count(scale))]
        return self._runs[scale]

    def provide(self, scale: str, runs: list) -> None:
        """Use ``runs`` (``run_seed(scale, i)`` for every i, run elsewhere) as this scale's."""
        if len(runs) != self.count(scale):
            raise ValueError(f"{self.group}: {len(runs)} runs for {self.count(scale)} seeds")
        self._runs[scale] = list(runs)


def claim(
    *,
    id: str,
    source: str,
    provenance: str,
    statement: str,
    measurement: str,
    expect: dict[str, ex.Band],
    positive: Control,
    negative: Control,
    scales: tuple[str, ...] = SCALES,
    figures: tuple[str, ...] = (),
    group: str = "",
    minutes: float = 0.0,
    must_hold: bool = False,
    revisions: tuple[Revision, ...] = (),
    requires: dict[str, ex.Band] | None = None,
    why_planted: str = "",
):
    """Register the decorated ``measure(scale, **options) -> Measurement`` as a claim, run with
    the ``positive`` and ``negative`` controls' options on those arms. Claims
    naming the same ``group`` share a cached experiment: ``stagewise check`` runs them in one task,
    one process. ``minutes`` (the group's rough cost at paper scale) only orders the tasks.
    ``requires``: the claim's preconditions (module docstring); ``why_planted``: required when a
    control is (partly) planted, why no measured one exists."""
    if provenance not in PROVENANCES:
        raise ValueError(f"provenance must be one of {PROVENANCES}, got {provenance!r}")
    if not set(scales) <= set(SCALES):
        raise ValueError(f"scales must be a subset of {SCALES}, got {scales!r}")
    if not expect or not positive.text.strip() or not negative.text.strip():
        raise ValueError(f"claim {id!r} needs bands and both controls")
    if set(requires or {}) & set(expect):
        raise ValueError(f"claim {id!r}: a precondition cannot also be a band")
    numbers = [r.number for r in revisions]
    if numbers != list(range(2, 2 + len(revisions))):
        raise ValueError(f"claim {id!r}: revisions must be numbered 2, 3, ... in order")

    def register(measure):
        if id in REGISTRY:
            raise ValueError(f"claim id {id!r} is registered twice")
        defaults = {
            name: p.default for name, p in inspect.signature(measure).parameters.items()
            if p.kind is p.KEYWORD_ONLY or p.default is not p.empty
        }  # fmt: skip
        for control in (positive, negative):
            unknown = set(control.options) - set(defaults)
            if unknown or "rng" in control.options:
                raise ValueError(f"claim {id!r}: the control {control.text!r} sets "
                                 f"{sorted(unknown or {'rng'})}, not options of the measure")  # fmt: skip
        options = {"claim": {}, "positive": positive.options, "negative": negative.options}
        c = Claim(
            id, source, provenance, statement, measurement, dict(expect), positive.text,
            negative.text, measure, options, tuple(scales), tuple(figures), group or id, minutes,
            must_hold, tuple(revisions), dict(requires or {}), why_planted,
        )  # fmt: skip
        if any(k != "measured" for k in c.control_kinds.values()) != bool(why_planted.strip()):
            raise ValueError(f"claim {id!r}: why_planted must say why no measured control exists "
                             "exactly when a control is planted")  # fmt: skip
        REGISTRY[id] = c
        return measure

    return register


def figure(name: str, caption: str):
    """Register the decorated ``draw(scale) -> Figure`` as the gallery recipe ``name``."""

    def register(draw):
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = Recipe(name, caption, draw)
        return draw

    return register


def _error_message(exc: Exception) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        package = exc.name.partition(".")[0]
        return (
            f"needs the optional package {package!r}, which is not installed: "
            f"{INSTALL_HINTS.get(package, f'pip install {package}')}"
        )
    return f"{type(exc).__name__}: {exc}"


def judge(c: Claim, arms: dict[str, str], undecidable=(), preconditions=None) -> tuple[str, str]:
    """The verdict from the three arms' decisions, and the one-sentence reason for it;
    ``undecidable``: the claim arm's statistics that are NaN or infinite (``expect.undecidable``),
    named in the reason of an inconclusive verdict; ``preconditions``: the decision of each of
    the claim's ``requires`` bands on the claim arm."""
    for arm, wanted in CONTROL_EXPECTED.items():
        if arms[arm] != wanted:
            what = c.positive if arm == "positive" else c.negative
            return "mis-posed", (
                f"the {arm} control ({what}) came out {arms[arm]}, not {wanted}: the measurement "
                "cannot decide this claim"
            )
    for name, decision in (preconditions or {}).items():
        if decision != "supported":
            return "mis-posed", (
                f"the precondition {c.requires[name].render(name)} came out {decision}, not "
                "supported: the testbed cannot show the effect, so the claim cannot be decided"
            )
    decision = arms["claim"]
    if decision == "inconclusive" and undecidable:
        return decision, (
            f"the statistic{'s' if len(undecidable) > 1 else ''} {', '.join(undecidable)} "
            f"{'are' if len(undecidable) > 1 else 'is'} NaN or infinite (no number to compare "
            "with the band: e.g. a target never reached), so the claim cannot be decided"
        )
    reason = {
        "supported": "every statistic's interval lies in its band, and both controls behave",
        "refuted": "a statistic's interval lies outside its band, and both controls behave",
        "inconclusive": "an interval straddles its band's edge: more seeds or instances needed",
    }[decision]
    return decision, reason


def run_claim(c: Claim, scale: str) -> Verdict:
    """Run the claim and its two controls (each arm on a fresh copy of the claim's generator);
    an exception in any arm becomes the verdict ``error`` carrying its message."""
    start = time.perf_counter()
    arms: dict[str, ArmResult] = {}
    measured: dict[str, Any] = {}
    for arm in ARMS:
        try:
            m = c.run(scale, arm)
            decision = ex.decide(c.expect, m.statistics)
        except Exception as exc:  # a broken check is a finding, not a crash of the whole run
            last = traceback.extract_tb(exc.__traceback__)[-1]
            message = _error_message(exc)
            where = f"{last.filename}:{last.lineno}"
            return Verdict(
                c, scale, "error", arms, {"exception": message, "where": where, "arm": arm},
                f"{arm} arm: {message}", f"the {arm} arm raised", {},
                time.perf_counter() - start,
            )  # fmt: skip
        bands = {**c.expect, **c.requires}
        arms[arm] = ArmResult(
            decision,
            {k: m.statistics[k] for k in bands},
            {k: band.decide(m.statistics[k]) for k, band in bands.items()},
            m.summary,
        )
        if arm == "claim":
            measured, summary = m.measured, m.summary
    claim_arm = arms["claim"]
    blind = [k for k in c.expect if ex.undecidable(claim_arm.statistics[k])]
    preconditions = {k: claim_arm.decisions[k] for k in c.requires}
    verdict, reason = judge(c, {a: arms[a].decision for a in ARMS}, blind, preconditions)
    needed = {k: ex.seeds_needed(band, claim_arm.statistics[k]) for k, band in c.expect.items()}
    for arm in CONTROL_EXPECTED:  # a control left undecided: the seeds that would decide it
        if arms[arm].decision == "inconclusive":
            needed.update({f"{arm} control: {k}": ex.seeds_needed(band, arms[arm].statistics[k])
                           for k, band in c.expect.items()
                           if arms[arm].decisions[k] == "inconclusive"})  # fmt: skip
    return Verdict(
        c, scale, verdict, arms, measured, summary, reason, needed, time.perf_counter() - start
    )
