"""Sampling profile of the live server (gunicorn master + workers) with py-spy, if installed.

With ``--gil`` py-spy samples only the thread holding the GIL in each worker, so the samples
show where the workers spend Python CPU time under load (waits on PostgreSQL or the upstream,
which release the GIL, are not counted; nor are threads queued for the GIL).
``pip install py-spy`` to enable (``--pyspy``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .profile import PHASES, _category

_RENAME = {
    "whole request (Flask wsgi_app)": "request, outside the view (Flask, before/after hooks, error handling)",
    "view POST /prompts (after auth)": "view, outside the phases below (smorest arguments/response, record)",
}


def available() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen | None:
    exe = available()
    if exe is None:
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--subprocesses",
                             "--duration", str(int(seconds + 0.999)),
                             "--rate", str(rate), "--gil", "--format", "raw", "--full-filenames", "--nonblocking",
                             "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame_file(frame: str) -> str:
    # "function (path/to/file.py:123)"
    at = frame.rfind(" (")
    return frame[at + 2:frame.rfind(":")] if at >= 0 else frame


def _frame_func(frame: str) -> str:
    at = frame.rfind(" (")
    return frame[:at] if at >= 0 else frame


def summarize(raw: Path, requests: int | None = None) -> dict[str, Any]:
    by_cat: Counter = Counter()
    by_phase: Counter = Counter()
    by_leaf: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        # skip the process/thread header frames py-spy adds ("process 123:...", "thread (0x...)")
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        leaf = frames[-1]
        by_cat[_category(_frame_file(leaf))] += n
        by_leaf[f"{_frame_func(leaf)} ({Path(_frame_file(leaf)).name})"] += n
        phase = "outside a request (gunicorn loop, accept, keep-alive)"
        names = [(_frame_func(f), _frame_file(f).replace("\\", "/")) for f in frames]
        for label, file_part, func in reversed(PHASES):  # the innermost named phase wins
            if any(fn.rsplit(".", 1)[-1] == func and path.endswith(file_part) for fn, path in names):
                phase = _RENAME.get(label, label)
                break
        else:
            if any(path.endswith("flask/app.py") for _fn, path in names):
                phase = "request, outside the phases below (Flask, smorest, auth decorator)"
            elif any("gunicorn" in path for _fn, path in names):
                phase = "gunicorn: parsing, writing, accept, keep-alive"
        by_phase[phase] += n

    def table(counter: Counter) -> list[tuple[str, float]]:
        return [(k, round(v * 100 / total, 1)) for k, v in counter.most_common()] if total else []

    return {"samples": total, "by_library_pct": table(by_cat), "by_phase_pct": table(by_phase),
            "top_leaf_functions_pct": table(by_leaf)[:15], "raw": str(raw)}


def text(summary: dict[str, Any]) -> str:
    lines = [f"py-spy on the live server under T1 generation load ({summary['samples']} samples of running "
             "GIL-holding threads; % of the workers' Python CPU)", "  by phase of the request (innermost):"]
    lines += [f"    {k:<66} {v:5.1f}%" for k, v in summary["by_phase_pct"]]
    lines.append("  by library (leaf frame):")
    lines += [f"    {k:<66} {v:5.1f}%" for k, v in summary["by_library_pct"] if v >= 0.5]
    lines.append("  top functions (self):")
    lines += [f"    {k[:66]:<66} {v:5.1f}%" for k, v in summary["top_leaf_functions_pct"][:10]]
    return "\n".join(lines)
