"""Run one documented shell command in a private network namespace and probe what it serves.

Started by tests/docs/test_docs_commands.py as `unshare --net python tests/netns_run.py SPEC`,
so the command can listen on the documented port (19431) without meeting anything else on
the machine, and reaches nothing but this namespace's loopback. SPEC is a JSON object:
  command   the shell command, as written in the docs
  cwd       its working directory
  env       extra environment variables; "{moto}" in a value becomes the moto server's URL
  moto      true to start a moto server in the namespace first
  paths     paths to fetch from http://127.0.0.1:19431 once /-/ready answers 200
Prints one JSON object: the bodies fetched, the command's exit code after SIGTERM, its output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

BASE = "http://127.0.0.1:19431"
READY_TIMEOUT = 60.0


def _get(path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(BASE + path, timeout=5) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return int(err.code), ""
    except OSError:
        return 0, ""


def _start_moto() -> str:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def main() -> int:
    spec = json.loads(sys.argv[1])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    moto = _start_moto() if spec.get("moto") else ""
    env = {**os.environ, **{k: v.replace("{moto}", moto) for k, v in spec["env"].items()}}
    proc = subprocess.Popen(
        # The documented command, run as written by the shell.
        spec["command"],
        shell=True,
        executable="/bin/bash",
        cwd=spec["cwd"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT
    while _get("/-/ready")[0] != 200 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    bodies = {path: _get(path) for path in spec["paths"]}
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
    result = {"bodies": bodies, "returncode": proc.returncode, "output": output.decode()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
