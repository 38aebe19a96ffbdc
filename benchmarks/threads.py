"""Thread counts inside a process that estimates KSG MI (numba) and trains (torch).

    python benchmarks/threads.py            # every scenario, each in a fresh process
    python benchmarks/threads.py --updates 40 --repeats 3

A scenario is a fresh Python process that (1) sets its thread environment, (2) optionally pins
torch and numba to one thread as a sweep worker does (lib.experiments), (3) times ``updates``
minibatch updates of the book's MLP (1568-1000-2-1000-1568, batch 128; lib.nets), (4) runs one
ksg_mi large enough to take numba's parallel path, then (5) times the same updates again. It
prints torch's and numba's thread counts before and after the MI call and the seconds per update
before and after: a "after / before" ratio far above 1 is the reported slow-down. The scenarios
run A, B, A, B ... ``repeats`` times and the best time of each is kept (the machine may be busy).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = {
    "plain (no thread env, no pinning)": ({}, False),
    "sweep worker (torch, numba pinned to 1)": ({}, True),
    "NUMBA_NUM_THREADS=1, no pinning": ({"NUMBA_NUM_THREADS": "1"}, False),
    "OMP_NUM_THREADS=1, no pinning": ({"OMP_NUM_THREADS": "1"}, False),
}

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np, numba, torch
from lib.mi import ksg_mi
pin, updates = {pin}, {updates}
if pin:
    numba.set_num_threads(1)
    torch.set_num_threads(1)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(1568, 1000), torch.nn.Sigmoid(), torch.nn.Linear(1000, 2),
                          torch.nn.Linear(2, 1000), torch.nn.Sigmoid(), torch.nn.Linear(1000, 1568))
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
x = torch.rand(128, 1568)
def train():
    t = time.perf_counter()
    for _ in range(updates):
        opt.zero_grad(); loss = ((net(x) - x) ** 2).sum(); loss.backward(); opt.step()
    return (time.perf_counter() - t) / updates
train()  # warm-up
before_threads = (torch.get_num_threads(), numba.get_num_threads())
before = train()
rng = np.random.default_rng(0)
a = rng.normal(size=(12000, 2)); b = a + rng.normal(size=(12000, 2))
t = time.perf_counter(); ksg_mi(a, b); mi_s = time.perf_counter() - t
after_threads = (torch.get_num_threads(), numba.get_num_threads())
after = train()
print(json.dumps(dict(before=before, after=after, before_threads=before_threads,
                      after_threads=after_threads, mi_s=mi_s, layer=numba.threading_layer())))
"""


def run_child(env_extra, pin, updates):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update(env_extra)
    code = CHILD.format(root=str(ROOT), pin=pin, updates=updates)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    best = {}
    for _ in range(args.repeats):
        for name, (env, pin) in SCENARIOS.items():
            r = run_child(env, pin, args.updates)
            keep = best.get(name)
            if keep is None or r["before"] + r["after"] < keep["before"] + keep["after"]:
                best[name] = r
    print(
        f"{'scenario':42s} {'threads before':>15s} {'after MI':>9s} "
        f"{'ms/update before':>17s} {'after':>7s} {'ratio':>6s}"
    )
    for name, r in best.items():
        print(
            f"{name:42s} {str(tuple(r['before_threads'])):>15s} "
            f"{str(tuple(r['after_threads'])):>9s} {1e3 * r['before']:17.1f} "
            f"{1e3 * r['after']:7.1f} {r['after'] / r['before']:6.2f}"
        )
    print(f"numba threading layer: {next(iter(best.values()))['layer']}")


if __name__ == "__main__":
    main()
