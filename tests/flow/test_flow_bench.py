"""bench/flow_control.py's summary: the paired ratio compares each variant's block with the plain block of
the same round, so a load that changes between rounds does not move it (the ratio of medians it moves)."""

from __future__ import annotations

from bench.flow_control import summary


def test_the_paired_ratio_holds_where_the_load_shifts_between_rounds() -> None:
    plain = [20_000.0, 20_000.0, 8_000.0, 8_000.0, 8_000.0]  # the machine got busy after round 2
    dedup = [18_000.0, 18_000.0, 18_000.0, 7_200.0, 7_200.0]  # 0.9 of plain in every round but the third
    rates = {"plain": plain, "deduplicate": dedup, "dispatch_many, plain": plain, "dispatch_many, x": plain}

    got = summary(rates)

    assert got["deduplicate"][0] == 18_000.0  # median jobs/s
    assert got["deduplicate"][0] / got["plain"][0] == 2.25  # the ratio of medians: the load shift
    assert round(got["deduplicate"][1], 6) == 0.9  # the paired ratio: the per-round median
    assert got["dispatch_many, x"][1] == 1.0  # a batch row is paired with the plain batch
