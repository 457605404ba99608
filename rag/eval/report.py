"""What `rag eval` writes and prints: results.jsonl, report.json,
report.md, the accuracy-by-type chart, and the terminal table.

Columns and definitions come from `rag.eval.metrics.METRICS`.

Left out: computing anything (metrics.py, runner.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.eval.metrics import DEFINITIONS, SUMMARY_COLUMNS, ItemResult
from rag.eval.qaset import TYPES
from rag.eval.runner import EvalRun

CHART_FILE = "accuracy_by_type.png"
SUMMARY_CHART = "summary_by_type.png"


def write_outputs(run: EvalRun, out_dir: Path) -> dict[str, Path]:
    """results.jsonl (primary), results-<config>.jsonl (when comparing),
    report.json, report.md and the accuracy-by-type chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["results"] = _write_results(out_dir / "results.jsonl", run.results[run.primary.name])
    if len(run.configs) > 1:
        for c in run.configs:
            paths[f"results-{c.name}"] = _write_results(out_dir / f"results-{c.name}.jsonl", run.results[c.name])
    report = run.report()
    paths["report.json"] = out_dir / "report.json"
    paths["report.json"].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["chart"] = write_chart(run, out_dir / CHART_FILE)
    paths["report.md"] = out_dir / "report.md"
    paths["report.md"].write_text(render_markdown(run), encoding="utf-8")
    return paths


def _write_results(path: Path, results: Sequence[ItemResult]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    return path


def _fmt(v: Any, key: str = "") -> str:
    if v is None:
        return "–"
    if key.endswith("_ms") and isinstance(v, int | float):
        return f"{v:.0f}" if v >= 10 else f"{v:.1f}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def summary_table(run: EvalRun) -> list[str]:
    """The comparison table: one row per configuration."""
    header = ["config", "n"] + [label for _, label in SUMMARY_COLUMNS]
    rows = []
    for c in run.configs:
        o = run.summaries[c.name]["overall"]
        rows.append([c.name, str(o["n"])] + [_fmt(o[key], key) for key, _ in SUMMARY_COLUMNS])
    return _table(header, rows)


def render_markdown(run: EvalRun) -> str:
    p = run.primary
    s = run.summaries[p.name]
    o = s["overall"]
    langs = ", ".join(f"{k} {v['n']}" for k, v in s["by_lang"].items())
    out = [
        "# Evaluation report",
        "",
        f"- QA file: `{run.qa_file}` — {o['n']} items ({langs}; "
        f"{o['n_answerable']} answerable, {o['n_unanswerable']} unanswerable)",
        f"- top k: {run.k}; created {run.created}",
        f"- primary configuration: **{p.name}** (mode {p.mode}, answerer {p.answerer})",
        "",
        "## Summary",
        "",
        *summary_table(run),
        "",
        "## Accuracy by type",
        "",
    ]
    types = [t for t in TYPES if t in s["by_type"]]
    header = ["type", "n"] + [c.name for c in run.configs]
    rows = [
        [t, str(s["by_type"][t]["n"])]
        + [_fmt(run.summaries[c.name]["by_type"].get(t, {}).get("accuracy")) for c in run.configs]
        for t in types
    ]
    out += _table(header, rows)
    out += ["", f"![accuracy by type]({CHART_FILE})", ""]
    for title, group in (("language", s["by_lang"]), ("type", s["by_type"])):
        out += [f"## {p.name}: by {title}", ""]
        cols = [("n", "n")] + list(SUMMARY_COLUMNS)
        out += _table(
            [title] + [label for _, label in cols],
            ([name] + [_fmt(m[key], key) for key, _ in cols] for name, m in group.items()),
        )
        out.append("")
    fails = s["failures"]
    out += [f"## {p.name}: failed items ({len(fails)})", ""]
    for f in fails:
        expected = " / ".join(f["expected"]) if isinstance(f["expected"], list) else f["expected"]
        got = f["got"].replace("\n", " ")
        out.append(
            f"- **{f['id']}** ({f['type']}, {f['lang']}, score {f['score']}) {f['question']}  \n"
            f"  expected: {expected}  \n"
            f"  got{' (refused)' if f['refused'] else ''}: {got}  \n"
            f"  why: {f['reason']}"
        )
    out += ["", "## Definitions", ""]
    out += [f"- **{k}**: {v}" for k, v in DEFINITIONS.items()]
    return "\n".join(out) + "\n"


def write_chart(run: EvalRun, path: Path) -> Path:
    """Grouped bars: accuracy by question type, one bar per configuration."""
    return _chart(
        {c.name: run.summaries[c.name]["by_type"] for c in run.configs},
        path,
        f"Accuracy by question type (top k = {run.k})",
    )


def _chart(series: Mapping[str, Mapping[str, Any]], path: Path, title: str) -> Path:
    """Grouped bars of accuracy by type, one bar per series.

    Uses the Agg canvas directly, so no global matplotlib backend is set.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    types = [t for t in TYPES if any(t in by_type for by_type in series.values())]
    fig = Figure(figsize=(max(8.0, 1.1 * len(types) + 3.5), 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(series))
    for j, (name, by_type) in enumerate(series.items()):
        vals = [(by_type.get(t) or {}).get("accuracy") or 0.0 for t in types]
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(types))]
        ax.bar(xs, vals, width=width, label=name)
    first = next(iter(series.values()))
    ax.set_xticks(range(len(types)))
    ax.set_xticklabels([f"{t}\n(n={first[t]['n']})" if t in first else t for t in types], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars
    fig.tight_layout()
    fig.savefig(path)
    return path


def _rows(runs: Mapping[str, EvalRun], keys: Sequence[str]) -> list[list[str]]:
    return [
        [name, c.name] + [_fmt(run.summaries[c.name]["overall"][key], key) for key in keys]
        for name, run in runs.items()
        for c in run.configs
    ]


def plain_summary(runs: EvalRun | Mapping[str, EvalRun]) -> str:
    """The summary table as aligned text, for the terminal: one row per set and configuration."""
    if isinstance(runs, EvalRun):
        runs = {"": runs}
    keys = [key for key, _ in SUMMARY_COLUMNS]
    header = ["set", "config"] + [label for _, label in SUMMARY_COLUMNS]
    rows = _rows(runs, keys)
    if len(runs) == 1:
        header, rows = header[1:], [r[1:] for r in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in [header, *rows])


def write_summary(runs: Mapping[str, EvalRun], out_dir: Path) -> dict[str, Path]:
    """summary.md, summary.json and summary_by_type.png: the sets side by side
    (the primary configuration of each, and every configuration's overall row)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [key for key, _ in SUMMARY_COLUMNS]
    md = ["# Evaluation summary", ""]
    md += [f"- **{name}**: `{run.qa_file}`, {run.results[run.primary.name].__len__()} items, top k {run.k}"
           for name, run in runs.items()]
    md += ["", "## Overall", ""]
    md += _table(["set", "config"] + [label for _, label in SUMMARY_COLUMNS], _rows(runs, keys))
    for group, title in (("by_lang", "language"), ("by_type", "type")):
        names = sorted({g for run in runs.values() for g in run.summaries[run.primary.name][group]},
                       key=lambda g: (TYPES.index(g) if g in TYPES else -1, g))
        md += ["", f"## Accuracy by {title} (primary configuration)", ""]
        md += _table(
            [title] + [f"{name} (n)" for name in runs],
            ([g] + [_acc_n(run.summaries[run.primary.name][group].get(g)) for run in runs.values()]
             for g in names),
        )
    md += ["", f"![accuracy by type]({SUMMARY_CHART})", ""]
    paths = {"summary.md": out_dir / "summary.md", "summary.json": out_dir / "summary.json"}
    paths["summary.md"].write_text("\n".join(md) + "\n", encoding="utf-8")
    paths["summary.json"].write_text(
        json.dumps({name: run.report() for name, run in runs.items()}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    paths["chart"] = _chart(
        {name: run.summaries[run.primary.name]["by_type"] for name, run in runs.items()},
        out_dir / SUMMARY_CHART,
        "Accuracy by question type: " + " vs ".join(runs),
    )
    return paths


def _acc_n(m: Mapping[str, Any] | None) -> str:
    return "–" if not m else f"{_fmt(m['accuracy'])} ({m['n']})"
