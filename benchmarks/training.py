"""Training speed of the ASAE and the DDN: one seed at a time against K seeds as one batched model.

    python benchmarks/training.py [--quick] [--ks 1,4,8] [--updates 5] [--devices cpu,cuda] [--out FILE]

Times minibatch updates of the book's networks (hidden 1000, batch 128, Simple composites'
56x28 = 1568 inputs; ASAE code 2; DDN as written on Simple: layers (1, 1, 1), 10-unit codes) on
synthetic random binary inputs (the cost of an update does not depend on the pixel values).
The book and thesis profiles use the same networks and differ only in how many composites (and
so updates per epoch) they train on, so one per-update cost serves both; the table ends with what
that means for one thesis-size run.

- "single": the ordinary single-run code (``lib.training.train``; ``lib.ddn.DDNTrainer``'s stage
  steps), K = 1.
- "batched K": ``lib.batched`` (``train_batched``; ``BatchedDDNTrainer``), K seeds per update.
Each setting is warmed up, then a handful of updates is timed one by one (not epochs) and the
median kept (robust to a shared machine's bursts); process CPU seconds per update are kept too (the
basis of CPU-hours). The ASAE's loop is one function, so a global optimiser step hook stamps the end
of each of its updates. CPU numbers use ``torch.set_num_threads(2)`` (the
book's 2-core budget). CUDA is measured when ``torch.cuda.is_available()``.

Writes ``results/calibration/training.json`` (``lib.costs`` reads it): seconds per update per
model, device, mode and K, with the machine (cpu count, threads, torch version, device name,
date). Entries for devices not measured in this run are kept from an existing file, so a CPU
machine and a GPU machine can each add theirs.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.autoencoders import ASAE  # noqa: E402
from lib.batched import BatchedDDNTrainer, build_asaes, train_batched  # noqa: E402
from lib.costs import CALIBRATION, estimate_seconds, updates_per_epoch  # noqa: E402
from lib.ddn import DDN, DDNConfig, DDNTrainer  # noqa: E402
from lib.ddn_runs import BENCHMARKS  # noqa: E402
from lib.training import TrainConfig, train  # noqa: E402

N_INPUT, HIDDEN, BATCH = 56 * 28, 1000, 128


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def data(n_updates, device, batch=BATCH, d=N_INPUT, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n_updates * batch, d, generator=g) < 0.2).float().to(device)


def stamp(device):
    sync(device)
    return time.perf_counter(), time.process_time()


def per_update(stamps):
    """(median wall seconds, mean process CPU seconds, fastest wall seconds) per update from
    consecutive step-end stamps."""
    wall = np.diff([w for w, _ in stamps])
    cpu = np.diff([c for _, c in stamps])
    return float(np.median(wall)), float(cpu.mean()), float(wall.min())


def time_asae(device, k, n, hidden, batch, d):
    """Per-update cost of the real loops (lib.training.train, lib.batched.train_batched): a global
    optimiser step hook stamps the end of every update; the first update of the epoch (setup) is
    dropped, the median of the next n intervals kept."""
    config = TrainConfig(epochs=1, batch_size=batch)
    seeds = list(range(max(k, 1)))

    def run(n_upd):
        x = data(n_upd, device, batch, d)
        stamps = []
        handle = register_optimizer_step_post_hook(lambda opt, a, kw: stamps.append(stamp(device)))
        try:
            if k == 0:  # single: the ordinary loop
                torch.manual_seed(0)
                train(ASAE(d, 2, hidden).to(device), x, config)
            else:
                train_batched(build_asaes(seeds, d, 2, hidden, device=device), x, config, seeds=seeds)
        finally:
            handle.remove()
        return stamps

    run(2)  # warm-up
    return per_update(run(1 + n))


def time_ddn(device, k, stage, n, hidden, batch, d):
    """Per-update cost of DDNTrainer's / BatchedDDNTrainer's stage step: median of n steps after
    2 warm-up steps."""
    layers = BENCHMARKS["simple"]["layers"]
    cfg = DDNConfig(
        enc_layers=layers[0], pred_layers=layers[1], dec_layers=layers[2], hidden=hidden, batch_size=batch
    )
    x = data(n + 2, "cpu", batch, d).numpy()
    tr = DDNTrainer(x, cfg, seed=0, device=device) if k == 0 else BatchedDDNTrainer(x, cfg, range(k), device)
    step = {1: tr.stage1_step, 2: tr.stage2_step, 3: lambda xb: tr.stage3_step(xb, cfg.alpha)}[stage]
    batches = list(tr.batches())
    for xb in batches[:2]:
        step(xb)
    stamps = [stamp(device)]
    for xb in batches[2 : 2 + n]:
        step(xb)
        stamps.append(stamp(device))
    return per_update(stamps)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny networks (a smoke test of the script; writes nothing unless --out is given)",
    )
    parser.add_argument("--ks", default="1,4,8", help="seeds per batched model")
    parser.add_argument("--updates", type=int, default=5, help="timed updates per setting")
    parser.add_argument("--devices", default=None, help="default: cpu, and cuda when available")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the book's budget: 2)")
    parser.add_argument("--out", default=None, help=f"calibration file (default {CALIBRATION})")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ks = [int(v) for v in args.ks.split(",")]
    devices = (
        args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    )
    hidden, batch, d = (64, 16, 96) if args.quick else (HIDDEN, BATCH, N_INPUT)
    out = Path(args.out) if args.out else (None if args.quick else CALIBRATION)
    size = {"hidden": hidden, "batch_size": batch, "n_input": d}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, sizes {size}, synthetic random "
        f"binary inputs; {args.updates} timed updates per setting",
        flush=True,
    )
    sizes = {"asae": n_params(ASAE(d, 2, hidden)), "ddn": n_params(DDN(d, DDNConfig(hidden=hidden)))}

    entries, machines, t_start = [], {}, time.perf_counter()
    for device in devices:
        name = cpu_name() if device == "cpu" else torch.cuda.get_device_name(torch.device(device))
        machines[device.split(":")[0]] = {
            "device_name": name,
            "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "load_before": os.getloadavg()[0],
        }
        machine = machines[device.split(":")[0]]
        for model in ("asae", "ddn_stage1", "ddn_stage2", "ddn_stage3"):
            for k in [0] + ks:
                t = time.perf_counter()
                try:
                    if model == "asae":
                        s, cpu_s, s_min = time_asae(device, k, args.updates, hidden, batch, d)
                    else:
                        s, cpu_s, s_min = time_ddn(device, k, int(model[-1]), args.updates, hidden, batch, d)
                except torch.OutOfMemoryError:
                    print(f"  {model} {device} K={k}: out of memory, skipped", flush=True)
                    continue
                entries.append(
                    {
                        "model": model,
                        "device": device.split(":")[0],
                        "mode": "batched" if k else "single",
                        "k": max(k, 1),
                        "s_per_update": s,
                        "s_per_update_min": s_min,
                        "cpu_s_per_update": cpu_s,
                        "updates_timed": args.updates,
                        "n_params": sizes["asae" if model == "asae" else "ddn"],
                        **size,
                    }
                )
                print(
                    f"  {model:10s} {device:4s} {'single' if k == 0 else f'batched K={k}':12s} "
                    f"{s * 1e3:8.1f} ms/update, {cpu_s * 1e3:8.1f} CPU ms  "
                    f"({time.perf_counter() - t:5.1f} s)",
                    flush=True,
                )

        machine["load_after"] = os.getloadavg()[0]
        if device == "cpu" and max(machine["load_before"], machine["load_after"]) > (os.cpu_count() or 1):
            machine["busy"] = True
            print(
                f"  note: the machine was busy (1-min load {machine['load_before']:.1f} / "
                f"{machine['load_after']:.1f} on {os.cpu_count()} cores): wall times are upper bounds",
                flush=True,
            )
    print(f"\nall settings in {time.perf_counter() - t_start:.0f} s\n")
    print(
        f"{'model':10s} {'device':6s} {'mode':11s} {'K':>2s} {'ms/update':>10s} {'upd/s/seed':>10s} "
        f"{'seed-upd/s':>10s} {'composites/s':>12s} {'vs K single':>11s} {'CPU ms':>9s} {'min ms':>9s}"
    )
    for e in entries:
        single = next(
            s["s_per_update"]
            for s in entries
            if s["model"] == e["model"] and s["device"] == e["device"] and s["mode"] == "single"
        )
        k, s = e["k"], e["s_per_update"]
        print(
            f"{e['model']:10s} {e['device']:6s} {e['mode']:11s} {k:2d} {s * 1e3:10.1f} {1 / s:10.2f} "
            f"{k / s:10.2f} {k * batch / s:12.0f} {k * single / s:10.2f}x "
            f"{e['cpu_s_per_update'] * 1e3:9.0f} {e['s_per_update_min'] * 1e3:9.0f}"
        )
    print(
        "upd/s/seed: updates per second each seed makes; seed-upd/s: all seeds together; composites/s: "
        "training examples per second, all seeds; vs K single: speed-up over running the K seeds one "
        "after another with the single-run code; CPU ms: process CPU seconds per update (all threads; "
        "the CPU-hours basis); min ms: the fastest "
        "timed update (ms/update is the median)."
    )

    doc = {
        "schema": 1,
        "note": "seconds per minibatch update (wall), synthetic random binary inputs; CPU with "
        "torch.set_num_threads(threads); per-update cost is independent of the data count, "
        "so it serves the book and thesis profiles alike",
        "machines": machines,
        "entries": entries,
    }
    if out is not None and out.exists():
        old = json.loads(out.read_text())
        kept = [e for e in old.get("entries", []) if e["device"] not in machines]
        doc["entries"] = kept + entries
        doc["machines"] = {
            **{k: v for k, v in old.get("machines", {}).items() if k not in machines},
            **machines,
        }
    if not args.quick:
        n_thesis = updates_per_epoch(25000, batch)
        asae_upd = 30 * n_thesis
        ddn_upd = tuple(e * n_thesis for e in BENCHMARKS["simple"]["epochs"])
        print(
            f"\nThesis size (25,000 composites: {n_thesis} updates per epoch; the book profile uses "
            f"fewer composites, same networks, same per-update cost): one ASAE run of 30 epochs = "
            f"{asae_upd} updates, "
            f"one Simple DDN run of {BENCHMARKS['simple']['epochs']} epochs = {ddn_upd} updates. 30 seeds:"
        )
        for dev in machines:
            for k, batched in [(1, False)] + [(k, True) for k in ks]:
                groups = math.ceil(30 / k)
                try:
                    a = groups * estimate_seconds("asae", asae_upd, dev, k, batched=batched, calibration=doc)
                    dd = groups * estimate_seconds("ddn", ddn_upd, dev, k, batched=batched, calibration=doc)
                except KeyError:
                    continue
                how = f"batched K={k}, {groups} groups" if batched else "single runs, one after another"
                print(f"  {dev:4s} {how:32s} ASAE {a / 3600:6.2f} h   DDN {dd / 3600:6.2f} h")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, out)
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
