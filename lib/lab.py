"""``python -m lib.lab [jupyter lab options]``: JupyterLab with the chapters opening as notebooks.

The chapters are MyST Markdown kept as text by jupytext. JupyterLab opens ``.md`` files in its
text editor unless its document manager's default viewer for Markdown is jupytext's "Jupytext
Notebook"; the project's setting is ``jupyter/labconfig/default_setting_overrides.json``, which
JupyterLab reads from any folder on the Jupyter config path. This launcher puts the project's
``jupyter/`` folder first on ``$JUPYTER_CONFIG_PATH`` and starts ``jupyter lab`` in the
repository, so a double-click on a chapter opens it as a notebook, with no setting to change.
(Right-click, "Open With", "Editor" still opens the text.)
"""

import os
import signal
import subprocess
import sys

from lib.processes import STOP_SIGNALS
from lib.profiles import ROOT

CONFIG = ROOT / "jupyter"


def lab_environment(environ=None) -> dict:
    """``environ`` with the project's Jupyter config folder first on ``JUPYTER_CONFIG_PATH``."""
    env = dict(os.environ if environ is None else environ)
    paths = [str(CONFIG)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


USAGE = """usage: python -m lib.lab [jupyter lab options]

Start JupyterLab in this repository with the book's chapters (book/chNN_*.md, MyST text kept by
jupytext) opening as notebooks on a double-click.

What this launcher adds to `jupyter lab`:
  * the project's Jupyter settings (jupyter/labconfig) come first on $JUPYTER_CONFIG_PATH, so
    Markdown chapters open with the "Jupytext Notebook" viewer (right-click, Open With, Editor
    still shows the text);
  * JupyterLab starts in the repository root, whatever folder you start it from;
  * --allow-root is added when you run as root (containers);
  * Ctrl-C, kill (SIGTERM) or a closed terminal (SIGHUP) is passed on to JupyterLab, and the
    launcher waits until JupyterLab has stopped.

Any `jupyter lab` option works as well, e.g. --no-browser --port=8899; see `jupyter lab --help`.
"""


def lab_command(args) -> list:
    """The ``jupyter lab`` command line the launcher runs for ``args``."""
    command = [sys.executable, "-m", "jupyterlab", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        command.append("--allow-root")  # containers run as root; JupyterLab refuses it otherwise
    return command


def _forward(child):
    """Pass the stop signals on to ``child``; return a function restoring the old handlers."""

    def handler(signum, frame):
        if child.poll() is None:
            child.send_signal(signum)

    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    return lambda: [signal.signal(s, h) for s, h in old.items()]


def run_lab(args) -> int:
    """Run JupyterLab until it exits, forwarding stop signals to it; return its exit status."""
    child = subprocess.Popen(lab_command(args), cwd=ROOT, env=lab_environment())
    restore = _forward(child)
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # the handler already forwarded it; keep waiting
                continue
    finally:
        restore()
        if child.poll() is None:  # the launcher itself is going: never leave JupyterLab behind
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    return run_lab(args)


if __name__ == "__main__":
    sys.exit(main())
