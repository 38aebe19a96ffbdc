"""``python -m lib.lab`` starts JupyterLab with the chapters opening as notebooks (jupytext)."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import psutil

from lib import lab


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def test_the_environment_puts_the_project_config_first():
    env = lab.lab_environment({"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_CONFIG_PATH"].split(":") == [str(lab.CONFIG), "/elsewhere"]
    assert (lab.CONFIG / "labconfig" / "default_setting_overrides.json").is_file()


def test_jupyterlab_started_by_the_launcher_opens_markdown_with_jupytext(tmp_path):
    port = _free_port()
    args = ["--no-browser", f"--port={port}", "--IdentityProvider.token=",
            f"--ServerApp.root_dir={lab.ROOT}", "--ServerApp.ip=127.0.0.1"]  # fmt: skip
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "lib.lab", *args], stdout=log, stderr=log)
    try:
        plugin = _get(f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
        # the override becomes the schema's default, which the page applies (no user setting)
        viewers = plugin["schema"]["properties"]["defaultViewers"]["default"]
        assert viewers["markdown"] == "Jupytext Notebook", (tmp_path / "lab.log").read_text()[-2000:]
    finally:
        children = psutil.Process(server.pid).children(recursive=True)
        server.terminate()
        server.wait(timeout=30)
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"JupyterLab outlived its launcher: {[p.pid for p in alive]}"
