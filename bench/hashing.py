"""Time of one argon2id hash and verify at the production parameters: python -m bench.hashing"""

from __future__ import annotations

import statistics
import time

from adapters.security import (
    ARGON2_MEMORY_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    Argon2PasswordHasher,
)


def main(rounds: int = 10) -> None:
    hasher = Argon2PasswordHasher()
    hashes, verifies = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        stored = hasher.hash("correct horse battery")
        hashes.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        hasher.verify(stored, "correct horse battery")
        verifies.append((time.perf_counter() - started) * 1000)
    print(f"argon2id t={ARGON2_TIME_COST} m={ARGON2_MEMORY_KIB} KiB p={ARGON2_PARALLELISM}: "
          f"hash median {statistics.median(hashes):.1f} ms (min {min(hashes):.1f}, max {max(hashes):.1f}), "
          f"verify median {statistics.median(verifies):.1f} ms, {rounds} rounds")


if __name__ == "__main__":
    main()
