"""A stop in the exporter's first second, while it is still importing and starting."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.test_cli import free_port


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_starting_exits_0_at_once(signum: int) -> None:
    # Without a config file, a start polls the default credential chain; none is reached:
    # the stop comes while the exporter is still importing (about 0.7 s on 2 cores).
    command = [sys.executable, "-m", "exporter", f"--web.listen-address=127.0.0.1:{free_port()}"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    began = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 2.0
    assert f"received {signal.Signals(signum).name} while starting; exiting" in err
    assert "Traceback" not in err
