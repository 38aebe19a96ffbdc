"""Run book chapters headless and check their records against the committed references.

    python -m lib.run --profile smoke                    # every chapter in _toc.yml
    python -m lib.run --profile book ch03_broadnet -p seed=1
    python -m lib.run --profile smoke --check            # compare with results/reference/smoke
    python -m lib.run --profile smoke --update-reference # after a deliberate change
    python -m lib.run --profile thesis --scheduler tcp://host:8786   # sweeps on a Dask cluster

Each chapter (a MyST text notebook) is converted with jupytext in memory, executed with papermill
(parameters injected after its ``parameters`` cell), written to ``_build/executed/<profile>/``;
the chapter writes its own record to ``results/<profile>/<chapter>.json``.
"""

import argparse
import ast
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lib.profiles import PROFILES, ROOT, SCHEDULER_ENV, chapter_budget, resolve_profile, toc_chapters


class UsageError(Exception):
    """A command line the runner cannot honour (exit status 2)."""


BOOK = ROOT / "book"
REFERENCE = ROOT / "results" / "reference"


def chapter_path(name):
    """``book/<name>.md`` for a chapter name, with a clear error for an unknown one."""
    path = BOOK / f"{Path(name).stem}.md"
    if not path.exists():
        known = sorted(p.stem for p in BOOK.glob("ch*.md"))
        raise UsageError(f"unknown chapter {name!r}; chapters are {known}")
    return path


def _parser():
    parser = argparse.ArgumentParser(prog="python -m lib.run", description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all in _toc.yml)")
    parser.add_argument("--profile", default=None, help=f"one of {sorted(PROFILES)}")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter, e.g. -p seed=3 -p data_dir=/data/mnist",
    )
    parser.add_argument("--check", action="store_true", help="compare records with the reference")
    parser.add_argument(
        "--update-reference", action="store_true", help="rewrite the reference from the new records"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="measure tolerances (a fresh 1-thread run vs a 2-thread run on its stored runs) "
        "and write the reference",
    )
    parser.add_argument("--no-execute", action="store_true", help="only check existing records")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="run nothing: print each chapter's runs, how many are stored and the estimated hours",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="send every sweep's runs to the running Dask scheduler at ADDRESS "
        f"(e.g. tcp://host:8786; default ${SCHEDULER_ENV}, else "
        "local processes); results are still written here",
    )
    return parser


def _profile_and_chapters(parser, argv):
    """Parse ``argv``; return it with its profile and chapters, or exit 2 naming a bad one."""
    args = parser.parse_args(argv)
    try:
        if args.profile == "":
            raise UsageError(f"--profile is empty; valid profiles are {sorted(PROFILES)}")
        try:
            profile = resolve_profile(args.profile)
        except ValueError as err:
            raise UsageError(str(err)) from None
        chapters = [Path(c).stem for c in args.chapters] or toc_chapters()
        for name in chapters:
            chapter_path(name)  # every chapter exists before anything runs
    except UsageError as err:
        parser.error(str(err))  # exit status 2
    return args, profile, chapters


if __name__ == "__main__":  # --help and usage errors answer before the slow imports below
    _profile_and_chapters(_parser(), sys.argv[1:])

# The imports that take seconds (torch, jupytext, papermill) come after the usage check above.
import jupytext  # noqa: E402
import papermill  # noqa: E402
import psutil  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from traitlets import CaselessStrEnum, default  # noqa: E402

from lib import cluster, planning  # noqa: E402
from lib.experiments import (  # noqa: E402
    BadInputs,
    atomic_write,
    check_inputs,
    current_identity,
    identity_differences,
    results_dir,
)
from lib.processes import Interrupt, descendants, stop_children  # noqa: E402


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager that talks to its kernel over IPC sockets in a private temporary folder:
    no TCP port, so no "Kernel is running over TCP without encryption" at every start."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _ip_default(self):
        return str(Path(tempfile.mkdtemp(prefix="book-kernel-")) / "kernel")


class _Lines:
    """A stream for tqdm that writes each update as its own line (no carriage returns), so a log
    file or a CI console shows progress as lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self):
        self.stream.flush()


def _progress(chapter):
    """papermill's cell progress bar for ``chapter``: a live bar on a terminal, else one line
    every 30 s (a chapter at the book profile runs for minutes with no other output)."""
    if sys.stderr.isatty():
        return {"desc": chapter, "leave": False}
    return {"desc": chapter, "file": _Lines(sys.stderr), "mininterval": 30, "ascii": True, "ncols": 90}


def execute(name, profile, parameters):
    """Execute one chapter with papermill (kernel over IPC); return the executed notebook's path."""
    notebook = jupytext.read(chapter_path(name))
    out_dir = ROOT / "_build" / "executed" / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{Path(name).stem}.ipynb"
    papermill.execute_notebook(
        notebook,
        str(output),
        parameters={"profile": profile, **parameters},
        cwd=str(BOOK),
        kernel_name="python3",
        progress_bar=_progress(Path(name).stem),
        log_output=False,
        kernel_manager_class=IPCKernelManager,
    )
    return output


FLOOR_ABS, FLOOR_REL = 1e-9, 1e-6  # below any real change; float noise between identical runs
CALIBRATION_FACTOR = 4  # a tolerance is this many times the largest thread-count difference


def floor_tolerance(ref):
    """The tolerance of a number whose calibration measured no variation at all."""
    return FLOOR_ABS + FLOOR_REL * abs(ref)


def _drift(name, new, ref, tol):
    """A message when ``new`` differs from ``ref`` beyond ``tol``, else None."""
    if isinstance(ref, list):
        if not isinstance(new, list) or len(new) != len(ref):
            return f"{name}: {new!r} != reference {ref!r}"
        return next(
            (m for i, (a, b) in enumerate(zip(new, ref)) if (m := _drift(f"{name}[{i}]", a, b, tol))), None
        )
    if isinstance(ref, bool) or not isinstance(ref, (int, float)):
        return None if new == ref else f"{name}: {new!r} != reference {ref!r}"
    if not math.isfinite(ref):  # NaN and +-inf equal only themselves (NaN never compares equal)
        same = isinstance(new, float) and (new == ref or (math.isnan(new) and math.isnan(ref)))
        return None if same else f"{name}: {new!r} != reference {ref!r}"
    if isinstance(new, bool) or not isinstance(new, (int, float)):
        return f"{name}: {new!r} is not a number (reference {ref!r})"
    allowed = tol if tol is not None else floor_tolerance(ref)
    if not math.isfinite(new) or abs(new - ref) > allowed:
        return f"{name}: {new:.6g} vs reference {ref:.6g} (allowed +-{allowed:.3g})"
    return None


def _show(path):
    """A path relative to the repository where it lies inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def reference_identity_notes(new, ref):
    """How the record's identity differs from its reference's (the lines ``--check`` prints
    before any drift line): other data, seed or profile is a problem (the numbers cannot
    agree), other code a note (what ``--check`` is for). Returns ``(problems, notes)``."""
    if not isinstance(ref.get("identity"), dict):
        return [], ["reference has no identity (made before references carried one)"]
    differences = identity_differences(new.get("identity"), ref["identity"])
    if differences == ["no identity"]:
        return ["the record has no identity (made before records carried one)"], []
    problems = [f"{d} than the reference" for d in differences if not d.startswith("different code")]
    notes = [f"{d} than the reference" for d in differences if d.startswith("different code")]
    return problems, notes


def check(name, profile, notes=None):
    """Compare a chapter's record with its reference; return the list of problems.

    Identity differences come first (``reference_identity_notes``); ``notes``, a list, receives
    the ones that are not problems."""
    chapter = Path(name).stem
    record_path = results_dir(profile) / f"{chapter}.json"
    ref_path = REFERENCE / profile / f"{chapter}.json"
    if not record_path.exists():
        return [f"no record {_show(record_path)} (did the chapter call Record.save()?)"]
    if not ref_path.exists():
        return [f"no reference {_show(ref_path)}: run with --update-reference"]
    new, ref = json.loads(record_path.read_text()), json.loads(ref_path.read_text())
    problems, identity_notes = reference_identity_notes(new, ref)
    if notes is not None:
        notes += identity_notes
    problems += [f"{k}: missing from the new record" for k in ref["metrics"] if k not in new["metrics"]]
    for key, value in ref["metrics"].items():
        if key in new["metrics"]:
            msg = _drift(key, new["metrics"][key], value, ref.get("tolerances", {}).get(key))
            problems += [msg] if msg else []
    return problems + _claim_changes(new.get("claims", []), ref.get("claims", []))


def _claim_changes(new, ref):
    """A changed verdict, or a claim gone from the record, is a regression too."""
    verdicts = {c["id"]: c["verdict"] for c in new}
    return [
        f"claim {c['id']}: "
        + (
            f"verdict {verdicts[c['id']]!r} != reference {c['verdict']!r}"
            if c["id"] in verdicts
            else "missing from the new record"
        )
        for c in ref
        if verdicts.get(c["id"]) != c["verdict"]
    ]


def _reference_path(chapter, profile):
    return REFERENCE / profile / f"{chapter}.json"


def _write_json(path, doc):
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n"))


def update_reference(name, profile, tolerances=None, calibration=None):
    """Copy a chapter's record (without its unchecked info, with its identity) to the reference.

    The reference keeps the tolerances measured by ``--calibrate`` for the metrics it still has
    (or takes the new ``tolerances``); a metric without one must match to float precision.
    """
    chapter = Path(name).stem
    record = json.loads((results_dir(profile) / f"{chapter}.json").read_text())
    record.pop("info", None)
    path = _reference_path(chapter, profile)
    old = json.loads(path.read_text()) if path.exists() else {}
    if tolerances is None:
        tolerances = old.get("tolerances", {})
        calibration = old.get("calibration")
    record["tolerances"] = {k: v for k, v in tolerances.items() if k in record["metrics"]}
    if calibration:
        record["calibration"] = calibration
    _write_json(path, record)
    return path


def _largest_difference(a, b):
    """The largest absolute difference between two metric values (lists element-wise)."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return max((_largest_difference(x, y) for x, y in zip(a, b)), default=0.0)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if numbers and math.isfinite(a) and math.isfinite(b):
        return abs(a - b)
    return 0.0 if a == b else math.inf


def measured_tolerances(first, second):
    """Tolerances from two records of the same chapter and seed computed with other thread counts.

    Each metric that differed gets ``CALIBRATION_FACTOR`` times its largest difference; one that
    did not gets none (it must match to float precision, ``floor_tolerance``). Returns the
    tolerances and the metrics that cannot be checked (a string or a NaN that changed).
    """
    tolerances, unstable = {}, []
    for key, value in second["metrics"].items():
        diff = _largest_difference(first["metrics"].get(key), value)
        if not math.isfinite(diff):
            unstable.append(key)
        elif diff > 0:
            tolerances[key] = float(f"{CALIBRATION_FACTOR * diff:.3g}")
    return tolerances, unstable


def _run_isolated(chapter, profile, parameters, threads, results):
    """Run one chapter in a fresh process with ``threads`` BLAS/torch threads, results under ``results``."""
    env = dict(
        os.environ,
        BOOK_RESULTS_DIR=str(results),
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
    )
    args = [sys.executable, "-m", "lib.run", "--profile", profile, chapter]
    args += [f"-p{k}={v}" for k, v in parameters.items()]
    code = psutil.Popen(args, env=env, cwd=ROOT).wait()
    path = Path(results) / profile / f"{chapter}.json"
    if code != 0 or not path.exists():
        raise RuntimeError(f"{chapter} failed with {threads} thread(s) (exit {code})")
    return json.loads(path.read_text())


def calibrate(name, profile, parameters, workdir):
    """Measure a chapter's tolerances: run it with 1 and with 2 threads, compare, store.

    The 1-thread run starts from nothing in ``workdir``: every sweep run is computed afresh.
    Its runs are then copied into this checkout's stored runs, and the 2-thread run is an
    ordinary run of this checkout that reuses them (a sweep run always trains with one torch
    thread, ``lib.experiments.compute_run``, so computing it again would only repeat it) and
    leaves its runs and record behind for a book build afterwards. The difference is therefore
    what the thread count changes: the chapter's own computations on the runs. The 2-thread
    record becomes the reference; every metric's tolerance is derived from the difference
    (``measured_tolerances``). Returns the metrics that cannot be checked.
    """
    chapter = Path(name).stem
    one = _run_isolated(chapter, profile, parameters, 1, Path(workdir) / "threads1")
    fresh = Path(workdir) / "threads1" / profile / "runs"
    if fresh.is_dir():
        shutil.copytree(fresh, results_dir(profile) / "runs", dirs_exist_ok=True)
    two = _run_isolated(chapter, profile, parameters, 2, results_dir(profile).parent)
    tolerances, unstable = measured_tolerances(one, two)
    two.pop("info", None)
    two["tolerances"] = tolerances
    two["calibration"] = {
        "rule": f"{CALIBRATION_FACTOR} x |1 thread - 2 threads|, else "
        f"{FLOOR_ABS:g} + {FLOOR_REL:g} x |value|",
        "threads": [1, 2],
        "unstable": unstable,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    _write_json(_reference_path(chapter, profile), two)
    return unstable


def _note_runtime(name, profile, seconds):
    """Add the runner's wall time to the chapter's record (an unchecked info value)."""
    path = results_dir(profile) / f"{Path(name).stem}.json"
    if path.exists():
        record = json.loads(path.read_text())
        record.setdefault("info", {})["runner_seconds"] = round(seconds, 1)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, sort_keys=True)))


def chapter_parameters(name):
    """``{name: default}`` of a chapter's ``parameters`` cell (papermill's injection point)."""
    for cell in jupytext.read(chapter_path(name)).cells:
        if "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return {
                t.id: ast.literal_eval(node.value)
                for node in tree.body
                if isinstance(node, ast.Assign)
                for t in node.targets
                if isinstance(t, ast.Name)
            }
    raise UsageError(f"chapter {name} has no cell tagged `parameters`")


def _typed(key, text, default):
    """``text`` as the type of the parameter's default: an int stays an int, a folder a string."""
    if text in ("null", "None"):
        return None
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"parameter {key} is a bool; got {text!r}")
        return text.lower() in ("true", "1")
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(text)
            except ValueError:
                raise UsageError(f"parameter {key} is {kind.__name__}; got {text!r}") from None
    if key.endswith("_dir"):  # a folder relative to where the command was typed
        if not text.strip():
            raise UsageError(f"parameter {key} is empty; give a folder, or null for the default")
        return str(Path(text).expanduser().resolve())
    return text


def parse_parameters(pairs, chapters):
    """Check ``-p key=value`` pairs against every chapter's parameters cell and type them."""
    split = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"parameter {pair!r} is not of the form key=value")
        if key == "profile":
            raise UsageError("set the profile with --profile, not -p profile=...")
        split.append((key, value))
    parameters = {}
    for chapter in chapters:
        defaults = chapter_parameters(chapter)
        for key, value in split:
            if key not in defaults:
                valid = ", ".join(k for k in defaults if k != "profile")
                raise UsageError(f"{chapter} has no parameter {key!r}; its parameters are {valid}")
            parameters[key] = _typed(key, value, defaults[key])
    seed = parameters.get("seed")
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise UsageError(f"parameter seed must be a non-negative integer; got {seed!r}")
    return parameters


def _hours(h):
    return "?" if h is None else f"{h:.3g}" if h >= 0.01 else "<0.01" if h > 0 else "0"


def _wall(seconds):
    return "?" if seconds is None else f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def print_plan(chapters, profile, parameters):
    """``--plan``: each chapter's experiments, runs, stored runs and estimated hours; runs nothing.

    CPU-hours are single-thread CPU time of the runs not yet stored (a sweep runs one process
    per core); GPU-hours appear where the training calibration has CUDA measurements. Each
    chapter's line gives its estimated wall time on this machine's cores, from scratch and with
    the stored runs reused (``lib.planning.chapter_seconds``). "?" marks a cost nobody has measured.
    """
    seed, data_dir = parameters.get("seed", 0), parameters.get("data_dir")
    jobs = os.cpu_count() or 1
    print(f"plan for profile {profile!r} on {jobs} cores (nothing runs; hours: runs not yet stored)\n")
    print(f"{'chapter / experiment':44s} {'runs':>6s} {'stored':>6s} {'CPU-h':>8s} {'GPU-h':>8s}  basis")
    totals = {"runs": 0, "stored": 0, "cpu": 0.0, "cuda": 0.0, "unknown": 0, "scratch": 0.0, "now": 0.0}
    for name in chapters:
        experiments = planning.chapter_plan(name, profile, seed=seed, data_dir=data_dir)
        scratch, basis = planning.chapter_seconds(name, profile, jobs, experiments=experiments)
        now, _ = planning.chapter_seconds(name, profile, jobs, from_scratch=False, experiments=experiments)
        for key, value in (("scratch", scratch), ("now", now)):
            totals[key] = None if value is None or totals[key] is None else totals[key] + value
        wall = f"wall {_wall(scratch)} from scratch, {_wall(now)} now" if scratch is not None else basis
        print(f"{name:44s} {'-' if experiments is None else '':>6s} {'':>6s} {'':>8s} {'':>8s}  {wall}")
        for row in planning.plan_rows(experiments or {}, profile):
            print(
                f"  {row['experiment']:42s} {row['runs']:6d} {row['stored']:6d} "
                f"{_hours(row['cpu_hours']):>8s} {_hours(row['cuda_hours']):>8s}  {row['basis']}"
            )
            totals["runs"] += row["runs"]
            totals["stored"] += row["stored"]
            for device in ("cpu", "cuda"):
                if row[f"{device}_hours"] is not None:
                    totals[device] += row[f"{device}_hours"]
            totals["unknown"] += row["cpu_hours"] is None
    print(
        f"\n{'total':44s} {totals['runs']:6d} {totals['stored']:6d} {_hours(totals['cpu']):>8s} "
        f"{_hours(totals['cuda']):>8s}  "
        f"wall {_wall(totals['scratch'])} from scratch, {_wall(totals['now'])} now"
        + (f"; {totals['unknown']} experiments not measured (?)" if totals["unknown"] else "")
    )
    print("CPU-hours / cores = wall hours on one machine; / workers' cores on a Dask cluster.")


def _scheduler(args):
    """The Dask scheduler address to pass on (``--scheduler``, else ``$BOOK_SCHEDULER``), checked.

    A dead or malformed address is a ``UsageError`` naming it, before any chapter runs.
    """
    address = args.scheduler
    if address is None:
        address = os.environ.get(SCHEDULER_ENV)
    if address and not args.no_execute:
        try:
            info = cluster.probe(address)
        except cluster.ClusterError as err:
            raise UsageError(str(err)) from None
        workers = info.get("n_workers", 0)
        print(
            f"sweeps run on the Dask scheduler at {address} ({workers} workers, "
            f"{info.get('total_threads', 0)} threads)"
            + ("" if workers else "; no worker has joined yet: runs wait for one"),
            flush=True,
        )
    return address


def _report(name, status, seconds, profile, problems, executed):
    over = "  OVER BUDGET" if executed and seconds > chapter_budget(name, profile) else ""
    print(f"{name:32s} {status:24s} {seconds:7.1f} s{over}", flush=True)
    for problem in problems:
        print(f"    {problem}", flush=True)


def _record_warnings(name, profile):
    """Warnings the chapter's sweeps left in its record (corrupt runs moved aside, ...)."""
    path = results_dir(profile) / f"{name}.json"
    return json.loads(path.read_text()).get("info", {}).get("warnings", []) if path.exists() else []


def _failure(err):
    """One line for a chapter that failed: the kernel's error (its type and message, the cell
    it came from), not papermill's traceback."""
    if isinstance(err, papermill.PapermillExecutionError):
        return f"{err.ename}: {err.evalue} (in cell {err.exec_count or err.cell_index})"
    return f"{type(err).__name__}: {str(err)[-2000:]}"


def stale_record(name, profile, parameters, executed):
    """Why the chapter's record may not be used now (its identity is not the current one), or
    None: a record from other code, data, seed or profile is refused, never used silently."""
    path = results_dir(profile) / f"{name}.json"
    if not path.exists():
        return None
    seed = parameters.get("seed", chapter_parameters(name).get("seed"))
    now = current_identity(name, profile, seed, parameters.get("data_dir"))
    found = json.loads(path.read_text()).get("identity")
    differences = identity_differences(found, now)
    if not differences:
        return None
    why = "the chapter did not save its record" if executed else "run it without --no-execute"
    return f"record {_show(path)} is not of this run: {', '.join(differences)} ({why})"


def run_chapter(name, profile, parameters, args):
    """Execute (unless ``--no-execute``), check or calibrate one chapter; print its line."""
    start, status, problems, notes = time.time(), "ok", [], []
    if args.calibrate:
        with tempfile.TemporaryDirectory(prefix="calibrate-") as workdir:
            unstable = calibrate(name, profile, parameters, workdir)
        status = "ok (calibrated)"
        problems = [f"{k}: differs between thread counts and cannot be checked" for k in unstable]
    elif not args.no_execute:
        try:
            execute(name, profile, parameters)
            _note_runtime(name, profile, time.time() - start)
        except KeyboardInterrupt:
            raise
        except Exception as err:  # report every chapter, fail at the end
            status, problems = "FAILED", [_failure(err)]
    if status == "ok" and (why := stale_record(name, profile, parameters, not args.no_execute)):
        status, problems = "STALE", [why]
    warnings = _record_warnings(name, profile) if status == "ok" else []
    if status == "ok" and args.check:
        problems = check(name, profile, notes)
        status = "DRIFTED" if problems else "ok"
    if status == "ok" and args.update_reference:
        update_reference(name, profile)
        status = "ok (reference updated)"
    _report(
        name,
        status,
        time.time() - start,
        profile,
        notes + problems + warnings,
        executed=not (args.no_execute or args.calibrate),
    )  # a calibration runs it twice
    return not problems


def main(argv=None):
    parser = _parser()
    args, profile, chapters = _profile_and_chapters(parser, argv)
    try:
        parameters = parse_parameters(args.param, chapters)
        if args.plan:
            print_plan(chapters, profile, parameters)
            return 0
        if not args.no_execute:
            try:
                check_inputs(profile, parameters.get("data_dir"))
            except BadInputs as err:
                raise UsageError(str(err)) from None
        scheduler = _scheduler(args)
    except UsageError as err:
        parser.error(str(err))  # exit status 2
    already_running = {p.pid for p in descendants()}  # the caller's, when called from Python
    interrupt = Interrupt(already_running)
    restore_signals = interrupt.install()
    outer_scheduler = os.environ.get(SCHEDULER_ENV)
    if scheduler is not None:  # chapter kernels inherit it; their sweeps read it
        os.environ[SCHEDULER_ENV] = scheduler
    grace = 3.0  # a normal finish: the kernel is already shutting down
    try:
        failed = []
        for name in chapters:
            if not run_chapter(name, profile, parameters, args):
                failed.append(name)
            if interrupt.signal:  # a library on the way swallowed the KeyboardInterrupt
                raise KeyboardInterrupt(interrupt.signal)
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are stored; run the same command again to resume",
            file=sys.stderr,
            flush=True,
        )
        grace = 0.0
        return 130
    finally:
        restore_signals()
        if outer_scheduler is None:
            os.environ.pop(SCHEDULER_ENV, None)
        else:
            os.environ[SCHEDULER_ENV] = outer_scheduler
        stop_children(keep=already_running, grace=grace)
    if failed:
        print(f"{len(failed)} of {len(chapters)} chapters failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
