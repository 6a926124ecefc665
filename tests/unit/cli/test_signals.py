"""Signals by phase: a stop while starting ends the process, while serving it is queued."""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Iterator

import pytest

from exporter.cli.signals import HANDLED, Signals, Stopped, stopped_within


@pytest.fixture
def signals() -> Iterator[Signals]:
    """Installed in this (test) process; its own handlers come back afterwards."""
    before = {signum: signal.getsignal(signum) for signum in HANDLED}
    yield Signals().install()
    for signum, handler in before.items():
        signal.signal(signum, handler)


def send(signum: int) -> None:
    # Python runs the handler in the main thread at once: os.kill returns after it ran.
    os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_starting_ends_with_exit_0(signals: Signals, signum: int) -> None:
    with pytest.raises(Stopped) as stopped:
        send(signum)
    assert (stopped.value.signum, stopped.value.exit_code) == (signum, 0)


def test_a_stop_during_a_one_shot_is_not_a_success(signals: Signals) -> None:
    signals.one_shot()
    with pytest.raises(Stopped) as stopped:
        send(signal.SIGTERM)
    assert stopped.value.exit_code == 128 + signal.SIGTERM


def test_a_sighup_while_starting_waits_for_the_serving_loop(signals: Signals) -> None:
    send(signal.SIGHUP)
    signals.serving()
    assert signals.next(timeout=0) == {signal.SIGHUP}


def test_while_serving_every_signal_is_queued(signals: Signals) -> None:
    signals.serving()
    for signum in (signal.SIGHUP, signal.SIGHUP, signal.SIGTERM):
        send(signum)
    assert signals.next(timeout=0) == {signal.SIGHUP, signal.SIGTERM}
    assert signals.next(timeout=0) == set()


class _SendsOnSetName:
    """A class attribute that delivers ``signum`` while Python names it, as an import can."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __set_name__(self, owner: type, name: str) -> None:
        send(self.signum)


def _a_class_defined_during(signum: int) -> None:
    type("Defined", (), {"field": _SendsOnSetName(signum)})


def test_a_stop_inside_a_hook_of_pythons_is_found_in_what_wraps_it(signals: Signals) -> None:
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - what Python wraps it in varies
        _a_class_defined_during(signal.SIGTERM)
    stopped = stopped_within(raised.value)
    assert stopped is not None
    assert stopped.signum == signal.SIGTERM
    assert stopped_within(RuntimeError("unrelated")) is None


def test_the_command_exits_0_for_a_stop_wrapped_by_an_import(
    signals: Signals, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from exporter.cli import entry

    main = importlib.import_module("exporter.cli.main")
    monkeypatch.setattr(main, "main", lambda argv, s: _a_class_defined_during(signal.SIGTERM))
    assert entry.main([]) == 0
    assert "received SIGTERM while starting" in capsys.readouterr().err
