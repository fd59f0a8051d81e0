"""Processes the benchmark starts, and what /proc says about them (RSS, PSS, CPU time)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get_status(host: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    """One GET on a fresh connection; the status, or None if nothing answered."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return int(data[9:12]) if data.startswith(b"HTTP/1.") else None
    except (OSError, ValueError):
        return None


def wait_http(host: str, port: int, path: str, proc: subprocess.Popen | None, timeout: float,
              interval: float = 0.01) -> float:
    """Poll until ``path`` answers 200; the seconds it took. Raises if the process exits or
    ``timeout`` passes."""
    start = time.perf_counter()
    while True:
        if http_get_status(host, port, path, timeout=0.5) == 200:
            return time.perf_counter() - start
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"{host}:{port}{path} did not answer 200 within {timeout}s")
        time.sleep(interval)


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode()
    except OSError:
        return None
    # comm may contain spaces: split after the closing parenthesis
    return raw[raw.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (by scanning /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(name))
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its direct children (gunicorn: the master and its workers)."""
    return [pid] + children(pid)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the given processes (dead ones count 0)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def pss_bytes(pids: Iterable[int]) -> int:
    """Proportional set size: shared (copy-on-write) pages divided among the sharers."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds of PostgreSQL: live server processes, plus what the postmaster's exited
    children (closed connections' backends) used, so the figure never goes backwards."""
    pids = pids_named("postgres")
    total = cpu_seconds(pids)
    for pid in pids:
        fields = _stat(pid)
        if fields is not None and int(fields[1]) not in pids:  # the postmaster: parent is not postgres
            total += (int(fields[13]) + int(fields[14])) / CLK_TCK  # cutime, cstime
    return total


def threads(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[17])  # num_threads
    return total


def pids_named(comm: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm") as fh:
                    if fh.read().strip() == comm:
                        out.append(int(name))
            except OSError:
                pass
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as fh:
        parts = [int(x) for x in fh.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def loadavg() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop a process this benchmark started, and the children it leaves behind (by id)."""
    if proc.poll() is not None:
        return
    kids = children(proc.pid)
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    for kid in kids:
        try:
            os.kill(kid, 0)
        except OSError:
            continue
        try:
            os.kill(kid, signal.SIGKILL)
        except OSError:
            pass
