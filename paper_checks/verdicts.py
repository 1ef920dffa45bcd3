"""The verdicts a claim can get and what each means: one table that the registry decides by, the
CLI's help and the report's legend print, and ``stagewise check``'s exit status reads. (No heavy
imports: ``stagewise --help`` reads it.)"""

from __future__ import annotations

MEANINGS = {
    "supported": "every statistic's 95% interval inside its band, both controls behaving",
    "refuted": "an interval outside its band, both controls behaving",
    "inconclusive": "an interval straddling a band's edge, so more seeds are needed, or a "
    "statistic that is NaN or infinite",
    "mis-posed": "a control misbehaved, i.e. the positive control (where the statement holds by "
    "construction) was not supported or the negative (where it is false by construction) was "
    "not refuted, or a precondition failed, i.e. the testbed could not show the effect: the "
    "measurement cannot decide the claim and says nothing about the paper",
    "error": "the check raised",
}
VERDICTS = tuple(MEANINGS)
FAILING = ("refuted", "mis-posed", "error")  # verdicts that make ``stagewise check`` exit 1


def legend(code: str = "") -> str:
    """``verdict: meaning`` for every verdict, joined by semicolons; ``code``: a quote for the
    verdict's name (a backtick in Markdown)."""
    return "; ".join(f"{code}{v}{code}: {m}" for v, m in MEANINGS.items())
