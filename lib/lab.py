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
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "jupyter"


def lab_environment(environ=None) -> dict:
    """``environ`` with the project's Jupyter config folder first on ``JUPYTER_CONFIG_PATH``."""
    env = dict(os.environ if environ is None else environ)
    paths = [str(CONFIG)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = [sys.executable, "-m", "jupyterlab", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        command.append("--allow-root")  # containers run as root; JupyterLab refuses it otherwise
    return subprocess.call(command, cwd=ROOT, env=lab_environment())


if __name__ == "__main__":
    sys.exit(main())
