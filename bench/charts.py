"""One SVG bar chart per scenario and results configuration, written next to the Markdown table.

matplotlib is a benchmark requirement only (bench/requirements.txt); without it the harness still
writes its tables and says that no chart was drawn. A chart shows the medians of the table's
rows of one scenario (p95 rows left out to keep the groups readable), one bar per library, with
the min–max of the runs as error bars (a log scale when the bars span more than 50×); a library
with no number for a row has no bar there.
"""

from __future__ import annotations

from pathlib import Path

from .report import METRICS, summarize, values

COLORS = {"taskora": "#d62728", "compat": "#ff7f0e", "dramatiq": "#1f77b4", "huey": "#2ca02c",
          "taskiq": "#9467bd", "rq": "#8c564b", "arq": "#e377c2", "celery": "#7f7f7f"}


def _rows(scenario: str) -> list[tuple[str, str, str, bool]]:
    return [(metric, label, unit, higher) for s, metric, label, unit, higher in METRICS
            if s == scenario and higher is not None and "_p95_" not in metric]


def _draw(plt, results: dict, libs: list[str], scenario: str, title: str, path: Path) -> bool:
    """Grouped bars (row groups, a bar per library); False when nothing in it has a number."""
    rows = _rows(scenario)
    stats = {(m, lib): summarize(values(results, lib, scenario, m)) for m, *_ in rows for lib in libs}
    if not any(stats.values()):
        return False
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.35 * len(rows) * len(libs))), 4.2))
    width = 0.8 / len(libs)
    for k, lib in enumerate(libs):
        xs, heights, errs = [], [], [[], []]
        for g, (metric, *_rest) in enumerate(rows):
            st = stats[(metric, lib)]
            if st:
                xs.append(g + (k - (len(libs) - 1) / 2) * width)
                heights.append(st["median"])
                errs[0].append(st["median"] - st["min"])
                errs[1].append(st["max"] - st["median"])
        ax.bar(xs, heights, width, yerr=errs, label=lib, color=COLORS.get(lib), capsize=2)
    ax.set_xticks(range(len(rows)), [f"{label}\n({unit}{' ↑' if higher else ' ↓'})"
                                     for _m, label, unit, higher in rows], fontsize=8)
    medians = [st["median"] for st in stats.values() if st and st["median"] > 0]
    if medians and max(medians) / min(medians) > 50:  # sub-ms next to 100s of ms: bars stay visible
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncols=min(4, len(libs)))
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)
    return True


def write_all(doc: dict, prefix: Path) -> list[Path]:
    """``PREFIX-<results>-<scenario>.svg`` for every scenario with a number; [] without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for mode in doc.get("result_modes", ["stored"]):
        for scenario in doc["scenarios"]:
            path = prefix.parent / f"{prefix.name}-{mode}-{scenario}.svg"
            title = f"{scenario}, results {mode} ({doc['mode']}, {doc['runs']} run(s), {doc['date']})"
            if _draw(plt, doc["results"].get(mode, {}), doc["libs"], scenario, title, path):
                written.append(path)
    return written
