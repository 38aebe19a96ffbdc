"""Lint: ruff (pinned in requirements.txt, configured in pyproject.toml) on the package, the tests,
the benchmarks and the chapters' code cells."""

import subprocess
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
# The chapters are lectures, not modules: imports may follow prose (E402), long lines are
# allowed in shown cells the formatter does not touch (E501), and I is the identity, as in the text.
CHAPTER_RULES = ["--select", "F,E,W", "--ignore", "E402,E501,E731,E741"]


def _ruff(*args, cwd=ROOT):
    done = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def test_package_tests_and_benchmarks_pass_ruff():
    code, out = _ruff("check")
    assert code == 0, out
    code, out = _ruff("format", "--check")
    assert code == 0, out


def test_chapter_code_passes_ruff(tmp_path):
    for chapter in sorted((ROOT / "book").glob("ch*.md")):
        jupytext.write(jupytext.read(chapter), tmp_path / f"{chapter.stem}.py", fmt="py:percent")
    code, out = _ruff("check", "--isolated", "--line-length", "110", *CHAPTER_RULES, str(tmp_path))
    assert code == 0, out
