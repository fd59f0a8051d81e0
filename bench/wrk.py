"""wrk, a second load generator beside bench/loadgen.py (Debian's package; ``make wrk`` installs it).

wrk opens all its connections at once and keeps each busy (closed loop), so for T2 it is the
"200 users starting together" case. Generations need a token per user: a Lua script reads the
tokens from a file, each wrk thread takes its share, and each request takes the thread's next token
in turn, so the requests in flight at any moment belong to different users (as many tokens as
connections). wrk counts answers other than 2xx/3xx itself (a 429 would show there).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

LUA = r"""
local body_fmt, mine, n, seq = %(body)s, {}, 0, 0
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local threads = tonumber(args[1])
  local i = 0
  for line in io.lines(%(tokens)s) do
    if i %% threads == id then table.insert(mine, line) end
    i = i + 1
  end
  n = #mine
end
function request()
  seq = seq + 1
  local tok = mine[(seq %% n) + 1]
  return wrk.format("POST", "/api/v1/prompts", {["Authorization"] = "Bearer " .. tok,
    ["Content-Type"] = "application/json", ["Accept"] = "application/json"},
    string.format(body_fmt, id, seq))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse(out: str) -> dict[str, Any]:
    """Requests/s, the latency percentiles (--latency) and the errors from wrk's report."""
    res: dict[str, Any] = {"raw_tail": out.strip().splitlines()[-6:]}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.\d+)?%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        res[f"p{pct}_ms"] = round(_ms(m.group(1), m.group(2)), 2) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)) \
        if m else {}
    return res


def run(port: int, path: str, connections: int, duration: float, threads: int = 2,
        tokens: list[str] | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """wrk against ``path`` (GET), or POST /api/v1/prompts with ``tokens``."""
    threads = max(1, min(threads, connections))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
           f"--timeout={max(1, round(timeout))}s"]
    with tempfile.TemporaryDirectory(prefix="promptcore-wrk-") as tmp:
        if tokens is not None:
            token_file = Path(tmp) / "tokens.txt"
            token_file.write_text("\n".join(tokens) + "\n")
            body = json.dumps({"prompt": "Write a short, friendly haiku about green tea for a blog (wrk %d-%d).",
                               "style": "general"})
            script = Path(tmp) / "generate.lua"
            script.write_text(LUA % {"body": _lua_string(body), "tokens": _lua_string(str(token_file))})
            cmd += ["-s", str(script), f"http://127.0.0.1:{port}/api/v1/prompts", "--", str(threads)]
        else:
            cmd.append(f"http://127.0.0.1:{port}{path}")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout + 30, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip()[-500:], "command": " ".join(cmd[:6])}
    out = parse(proc.stdout)
    out.update({"connections": connections, "threads": threads, "duration_s": duration})
    return out


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
