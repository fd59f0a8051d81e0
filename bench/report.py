"""The table printed at the end, results.json and the PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .targets import T3_ENDPOINTS


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(target, figure, measured, baseline / context, verdict)."""
    out = []
    t = results.get("targets", {})

    def mark(ok: bool | None) -> str:
        return "PASS" if ok else "MISS"

    if "T1" in t:
        m, c = t["T1"]["medians"], t["T1"]["checks"]
        out += [
            ("T1", "sequential overhead (1 user: generation - direct upstream call)",
             _fmt(m.get("sequential_overhead_ms"), " ms"),
             f"{_fmt(m.get('solo_e2e_median_ms'), ' ms')} - {_fmt(m.get('upstream_direct_median_ms'), ' ms')} "
             f"(medians); less the stand-in's own time {_fmt(m['solo_overhead_median_ms'], ' ms')}, p99 "
             f"{_fmt(m['solo_overhead_p99_ms'], ' ms')}; <= 4 ms", mark(c["sequential_overhead_le_4ms"])),
            ("T1", "generation / healthz throughput, 10 users", _fmt(m["ratio"]),
             f"{_fmt(m['generation_rps'], '/s')} vs {_fmt(m['healthz_rps'], '/s')}; >= 0.20",
             mark(c["throughput_ratio_ge_0.20"])),
            ("T1", "server CPU per generation", _fmt(m["server_cpu_ms_per_generation"], " ms"),
             f"pg {_fmt(m['postgres_cpu_ms_per_generation'], ' ms')}, stand-in "
             f"{_fmt(m['standin_cpu_ms_per_generation'], ' ms')}, "
             f"healthz {_fmt(m['server_cpu_ms_per_healthz'], ' ms')}; <= 2.5 ms", mark(c["server_cpu_le_2.5ms"])),
            ("T1", "same, from wrk (10 connections)", _fmt(m.get("wrk_ratio")),
             f"{_fmt(m.get('wrk_generation_rps'), '/s')} vs {_fmt(m.get('wrk_healthz_rps'), '/s')}, "
             f"generation p99 {_fmt(m.get('wrk_generation_p99_ms'), ' ms')}", "info"),
            ("T1", "overhead at 10 users (queueing on 2 cores)", _fmt(m["overhead_median_ms"], " ms"),
             f"p99 {_fmt(m['overhead_p99_ms'], ' ms')}", "info"),
            ("T1", f"overhead, 10 users paced to {_fmt(m.get('paced_rps'), '/s')}",
             _fmt(m.get("paced_overhead_median_ms"), " ms"), f"p99 {_fmt(m.get('paced_overhead_p99_ms'), ' ms')}",
             "info"),
        ]
    profile = results.get("profile", {}).get("per_request_counts", {})
    if "round trips" in profile:
        out.append(("T1", "database round trips per generation (profile)", _fmt(profile["round trips"]),
                    ", ".join(f"{k} {v}" for k, v in profile.items() if k != "round trips") + "; <= 4",
                    mark(profile["round trips"] <= 4)))
    for key, label, rps, p99 in (("T2", "staggered start", 97, 2200), ("T2_together", "all starting together",
                                                                         88, 2500)):
        if key not in t:
            continue
        m, c = t[key]["medians"], t[key]["checks"]
        out += [
            ("T2", f"generations/s, {label} (2 s upstream, 200 users)", _fmt(m["throughput_rps"], "/s"),
             f"ideal 100; >= {rps}", mark(c[f"throughput_ge_{rps}"])),
            ("T2", f"p99 latency, {label}", _fmt(m["p99_ms"], " ms"), f"p50 {_fmt(m['p50_ms'], ' ms')}; <= {p99} ms",
             mark(c[f"p99_le_{p99}ms"])),
            ("T2", f"errors, {label}", _fmt(m["errors"]), "0", mark(c["zero_errors"])),
            ("T2", f"server memory, max RSS sum, {label}", _fmt(m["rss_max_mib"], " MiB"),
             f"PSS {_fmt(m['pss_max_mib'], ' MiB')}; <= 512 MiB", mark(c["memory_le_512MiB"])),
        ]
    w = results.get("runs", {}).get("T2_wrk")
    if w:
        out.append(("T2", "from wrk: 200 connections opened together", _fmt(w.get("rps"), "/s"),
                    f"p50 {_fmt(w.get('p50_ms'), ' ms')}, p99 {_fmt(w.get('p99_ms'), ' ms')}, non-2xx "
                    f"{w.get('non_2xx')}, socket errors {sum((w.get('socket_errors') or {}).values())}", "info"))
    if "T3" in t:
        m, c = t["T3"]["medians"], t["T3"]["checks"]
        for name in (n for n in T3_ENDPOINTS if n in m):
            e = m[name]
            out.append(("T3", f"{name}: 100k vs 100 records", _fmt(e["ratio"], "x"),
                        f"{_fmt(e['big_median_ms'], ' ms')} vs {_fmt(e['small_median_ms'], ' ms')}; <= 1.5x",
                        mark(c[f"{name}_ratio_le_1.5"])))
    if "T4" in t:
        m, c = t["T4"]["medians"], t["T4"]["checks"]
        out += [
            ("T4", "python -c 'import promptcore'", _fmt(m["import_process_ms"], " ms"),
             f"bare interpreter {_fmt(m['bare_interpreter_ms'], ' ms')}, import alone "
             f"{_fmt(m['import_only_ms'], ' ms')}; <= 50 ms", mark(c["import_le_50ms"])),
            ("T4", "frameworks imported", ", ".join(m["frameworks_imported"]) or "none", "none",
             mark(c["no_framework_imported"])),
            ("T4", "promptcore serve: spawn to /healthz 200", _fmt(m["serve_to_healthz_ms"], " ms"), "<= 3000 ms",
             mark(c["serve_healthz_le_3s"])),
        ]
    return out


def table(results: dict[str, Any]) -> str:
    data = rows(results)
    head = ("target", "figure", "measured", "baseline / limit", "")
    widths = [max(len(str(r[i])) for r in data + [head]) for i in range(5)]
    lines = [" | ".join(str(h).ljust(w) for h, w in zip(head, widths, strict=False)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=False)) for r in data]
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))


def write_png(results: dict[str, Any], path: Path) -> str | None:
    """A 2x2 chart; returns None, or why it was not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'matplotlib>=3.7,<4')"
    t = results.get("targets", {})
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    fig.suptitle(f"promptcore bench — {results.get('started_at', '')}  "
                 f"({results.get('config', {}).get('worker_class', '')} "
                 f"{results.get('config', {}).get('workers')}x{results.get('config', {}).get('threads')})")

    ax = axes[0][0]
    if "T1" in t:
        m = t["T1"]["medians"]
        labels = ["overhead\nmedian", "overhead\np99", "1 user\nmedian", "1 user\np99"]
        vals = [m["overhead_median_ms"], m["overhead_p99_ms"], m["solo_overhead_median_ms"], m["solo_overhead_p99_ms"]]
        limits = [None, None, 4, None]  # issue 15: the sequential (1 user) median
        bars = ax.bar(labels, [v or 0 for v in vals], color=["#c44e52" if lim is not None and (v or 0) > lim
                                                              else "#4c72b0"
                                                              for v, lim in zip(vals, limits, strict=False)])
        for lim, x in zip(limits, range(len(labels)), strict=False):
            if lim is not None:
                ax.hlines(lim, x - 0.4, x + 0.4, colors="k", linestyles="dashed")
        ax.bar_label(bars, fmt="%.1f")
        ax.set_ylabel("ms above upstream")
        ax.set_title(f"T1 overhead, 10 users, zero-latency upstream (ratio gen/healthz {m['ratio']})")
    else:
        ax.set_axis_off()

    ax = axes[0][1]
    if "T2" in t:
        runs = results.get("runs", {}).get("T2", [])
        m = t["T2"]["medians"]
        labels = ["gen/s", "p50 s", "p99 s", "RSS GiB"]
        vals = [m["throughput_rps"] or 0, (m["p50_ms"] or 0) / 1000, (m["p99_ms"] or 0) / 1000,
                (m["rss_max_mib"] or 0) / 1024]
        ax.bar(labels[:1], vals[:1], color="#4c72b0")
        ax.hlines(97, -0.4, 0.4, colors="k", linestyles="dashed")
        ax.set_ylabel("generations/s")
        ax2 = ax.twinx()
        ax2.bar(labels[1:], vals[1:], color="#55a868")
        ax2.hlines([2.5, 1.0], [1.6, 2.6], [2.4, 3.4], colors="k", linestyles="dashed")  # p99 and memory limits
        ax2.set_ylabel("seconds / GiB")
        ax.set_title(f"T2 2 s upstream, 200 users: {_fmt(m['throughput_rps'], '/s')}, p99 {_fmt(m['p99_ms'], ' ms')}, "
                     f"errors {m['errors']} ({len(runs)} run(s))")
    else:
        ax.set_axis_off()

    ax = axes[1][0]
    if "T3" in t:
        m = t["T3"]["medians"]
        names = [n for n in T3_ENDPOINTS if n in m]
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], [m[n]["small_median_ms"] or 0 for n in names], width=0.4, label="100 records")
        ax.bar([i + 0.2 for i in x], [m[n]["big_median_ms"] or 0 for n in names], width=0.4, label="100 000 records")
        ax.set_xticks(list(x), [f"{n}\n{m[n]['ratio']}x" for n in names])
        ax.set_ylabel("median ms")
        ax.legend()
        ax.set_title("T3 scale (ratio must be <= 1.5x)")
    else:
        ax.set_axis_off()

    ax = axes[1][1]
    if "T4" in t:
        m = t["T4"]["medians"]
        labels = ["bare python", "python -c\nimport promptcore", "import alone", "serve ->\n/healthz (/10)"]
        vals = [m["bare_interpreter_ms"], m["import_process_ms"], m["import_only_ms"], m["serve_to_healthz_ms"] / 10]
        bars = ax.bar(labels, vals, color=["#8c8c8c", "#4c72b0", "#4c72b0", "#55a868"])
        ax.hlines([50, 300], [0.6, 2.6], [1.4, 3.4], colors="k", linestyles="dashed")
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in vals[:3]] + [f"{m['serve_to_healthz_ms']:.0f} ms"])
        ax.set_ylabel("ms")
        ax.set_title(f"T4 start (frameworks imported: {', '.join(m['frameworks_imported']) or 'none'})")
    else:
        ax.set_axis_off()

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
