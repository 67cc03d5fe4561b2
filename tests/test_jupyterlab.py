"""JupyterLab as a user meets it: headless server, token auth, a kernel spec that has metakit."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO

STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running ``jupyter lab`` and a tiny client for its REST API."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, token: str) -> None:
        self.process, self.base, self.token = process, f"http://127.0.0.1:{port}", token

    def request(self, path: str, method: str = "GET", body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``jupyter lab`` on a free loopback port with a random token; shut down afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    log = (runtime / "lab.log").open("wb")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={REPO}",
         "--LabApp.extension_manager=readonly",  # no calls to PyPI
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        stdout=log, stderr=subprocess.STDOUT, env=env)
    server = Server(process, port, token)
    try:
        _wait_until_up(server, runtime / "lab.log")
        yield server
    finally:
        _stop(server)
        log.close()


def _wait_until_up(server: Server, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {server.process.returncode}:\n"
                        f"{log.read_text()[-2000:]}")
        try:
            server.request("/api/status")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    pytest.fail(f"jupyter lab did not answer within {STARTUP_SECONDS} s:\n"
                f"{log.read_text()[-2000:]}")


def _stop(server: Server) -> None:
    """Ask the server to shut down through its API; terminate it only if it does not."""
    try:
        server.request("/api/shutdown", method="POST")
        server.process.wait(timeout=20)
    except (urllib.error.URLError, ConnectionError, subprocess.TimeoutExpired):
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def kernel_python(argv: list[str]) -> str:
    """The interpreter a kernel spec runs; jupyter_client maps a bare ``python`` to its own."""
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    return sys.executable if argv[0] in bare else argv[0]


def imports_metakit(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import metakit, metakit.publish.build"],
                           check=False, capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.slow
def test_api_answers_with_token(lab):
    status = lab.request("/api/status")
    assert "started" in status
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(lab.base + "/api/kernelspecs", timeout=10)
    assert denied.value.code == 403


@pytest.mark.slow
def test_a_kernel_spec_has_metakit_and_starts(lab):
    specs = lab.request("/api/kernelspecs")["kernelspecs"]
    with_metakit = [name for name, spec in specs.items()
                    if imports_metakit(kernel_python(spec["spec"]["argv"]))]
    assert with_metakit, f"no kernel spec can import metakit: {sorted(specs)}"
    if "metakit" in specs:  # installed by `make` as "Python (metakit)"
        assert "metakit" in with_metakit
        assert specs["metakit"]["spec"]["display_name"] == "Python (metakit)"
    kernel = lab.request("/api/kernels", method="POST", body={"name": with_metakit[0]})
    try:
        assert kernel["id"] in {k["id"] for k in lab.request("/api/kernels")}
    finally:
        lab.request(f"/api/kernels/{kernel['id']}", method="DELETE")
