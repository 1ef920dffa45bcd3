"""``stagewise bench``: wall-time benchmarks as ratios against what a user would otherwise
write."""

from __future__ import annotations

import json

from infra.checks import InputError

NAME = "bench"


def add_parser(sub) -> None:
    """The ``bench`` command and its arguments, on the subparsers ``sub``."""
    bench = sub.add_parser(
        NAME,
        help="wall-time benchmarks, reported as ratios",
        description="Time the Numba kernels against their NumPy references "
        "(and PyTorch eager, JAX jit, scikit-learn where installed) in one run (best of "
        "--repeats, JIT warm) and report the ratios. Each line names its float type "
        "([float64] or [float32]: the transformer and residual-MLP steps are timed in both) "
        "and ends with its target and whether this run met or missed it.",
    )
    bench.add_argument("--repeats", type=int, default=5, help="timings per case (default 5)")
    bench.add_argument(
        "--section",
        choices=("rates", "kernels", "scaling", "sweep", "all"),
        default="all",
        help="rates: AlgoPerf-style stages-to-target table; "
        "kernels: Numba vs NumPy (and scikit-learn) ratios; scaling: per-d stage "
        "times and the fraction of dgemm throughput; sweep: a 64-cell sweep on 2 workers "
        "(local processes and Dask) against in-process (default: all)",
    )
    bench.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: check that every section runs (about 40 s on 2 cores, most of it the "
        "local Dask cluster and process start-up of the sweep section; timings mean nothing and "
        "targets are not judged)",
    )
    bench.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from sims import bench
    from sims.families.deep_linear import bench as deep_linear_bench
    from sims.families.table import FAMILIES

    if not 1 <= args.repeats <= 1000:
        raise InputError(f"--repeats must be between 1 and 1000, got {args.repeats}")
    sections = (
        ("rates", "kernels", "scaling", "sweep") if args.section == "all" else (args.section,)
    )
    report = {}
    if "rates" in sections:
        report["rates"] = bench.rate_table(args.smoke)
    if "kernels" in sections:
        report["kernels"] = [
            row for family in FAMILIES.values() for row in family.bench(args.repeats, args.smoke)
        ]
    if "scaling" in sections:
        report["scaling"] = deep_linear_bench.scaling(args.repeats, args.smoke)
    if "sweep" in sections:
        report["sweep"] = bench.sweep_bench(args.smoke)
    if args.json:
        print(json.dumps(report, indent=1, default=float))
        return 0
    for row in report.get("sweep", []):
        speed = (
            f", speed-up {row['speedup_over_inprocess']:.2f}x {_target(row, args.smoke)}"
            if "speedup_over_inprocess" in row
            else ""
        )
        print(f"{row['benchmark']}: {row['seconds']:.1f} s{speed}")
    for row in report.get("rates", []):
        s, z = row["stack"], row["zero"]
        print(
            f"{row['family']}, kappa={row['kappa']}: stages to 1e-6 stack {s['median']:.0f} "
            f"[{s['iqr'][0]:.0f}, {s['iqr'][1]:.0f}] (success {s['success']:.0%}), zero "
            f"{z['median']:.0f} [{z['iqr'][0]:.0f}, {z['iqr'][1]:.0f}] (success "
            f"{z['success']:.0%}); speed-up {row['speedup']:.1f} vs sqrt(kappa) "
            f"{row['sqrt_kappa']:.1f}"
        )
    for row in report.get("kernels", []):
        ratio = f"  speed-up {row['speedup']:.1f}x" if "speedup" in row else ""
        if "ratio_to_sklearn" in row:
            ratio = (
                f", sklearn {row['sklearn_s'] * 1e3:.1f} ms  ratio {row['ratio_to_sklearn']:.2f}"
            )
        numpy_part = f", numpy {row['numpy_s'] * 1e3:.1f} ms" if "numpy_s" in row else ""
        if "ratio_to_sklearn" not in row:  # its one peer is in the ratio above
            numpy_part += "".join(_peer_text(row, name) for name in _peers(row))
        best = row.get("ratio_best_peer_to_numba")
        if best is not None:  # the batch or step against its peers
            numpy_part += (
                f" (best peer's time / numba's {best:.2f}: numba is that many times faster)"
            )
        if "threads_used" in row:
            numpy_part += (
                f"; {row['variant']}, ran on {row['threads_used']} of "
                f"{row['threads_available']} threads"
            )
        print(
            f"{row['benchmark']} [{row['dtype']}]: numba {row['numba_s'] * 1e3:.1f} ms"
            f"{numpy_part}{ratio}  {_target(row, args.smoke)}"
        )
    for row in report.get("scaling", []):
        torch_part = (
            f", torch {row['torch_s_per_stage'] * 1e3:.3f} ms"
            if row["torch_s_per_stage"]
            else ", torch not installed"
        )
        dgemm = (
            f"; {row['stage_gflops']:.1f} GFLOP/s = {row['fraction_of_dgemm']:.0%} of dgemm "
            f"({row['dgemm_gflops']:.1f} GFLOP/s)"
            if "dgemm_gflops" in row
            else ""
        )
        print(
            f"deep linear stage, d={row['d']}: numba {row['numba_s_per_stage'] * 1e3:.3f} ms, "
            f"numpy {row['numpy_s_per_stage'] * 1e3:.3f} ms{torch_part}{dgemm}"
        )
    return 0


def _peers(row: dict) -> list[str]:
    """The peers a row timed besides NumPy, in the row's order (a key ``<peer>_s`` each)."""
    return [
        k.removesuffix("_s") for k in row if k.endswith("_s") and k not in ("numba_s", "numpy_s")
    ]


def _peer_text(row: dict, name: str) -> str:
    """A peer's time on a kernels line, with its time over numba's where the row has it."""
    if row[f"{name}_s"] is None:
        return f", {name} not installed"
    ratio = row.get(f"ratio_to_{name}")
    return f", {name} {row[f'{name}_s'] * 1e3:.1f} ms" + (
        "" if ratio is None else f" ({name}/numba {ratio:.2f})"
    )


def _target(row: dict, smoke: bool) -> str:
    """A benchmark's target and whether this run met it (at --smoke sizes: not judged)."""
    if smoke:
        return f"(target {row['target']}: not judged at --smoke sizes)"
    word = {True: "met", False: "missed", None: "not judged: no peer installed"}[row["met"]]
    return f"(target {row['target']}: {word})"
