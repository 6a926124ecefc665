"""Where one poll's CPU goes: cProfile over sequential polls against the stand-in.

python -m bench.profile_poll            # 200 targets, no added latency, top 25 by cumulative time
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

from bench.calls import wait_warm
from bench.common import config_text, standin, use_fake_credentials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    use_fake_credentials()
    from exporter.app import App
    from exporter.config import parse_config
    from exporter.polling.poller import Poller

    with standin(args.targets // 2, 0.0) as endpoint:
        app = App(
            parse_config(config_text(endpoint).replace("concurrency: 64", "concurrency: 1"), {})
        )
        app.start()
        app.wait_ready()
        wait_warm(app)
        targets = [state.target for state in app.poller.snapshot.states.values()]
        assert isinstance(app.poller, Poller)  # one process: poll_workers is 1
        poll = app.poller._poll  # the same function the workers call
        profile = cProfile.Profile()
        began = time.perf_counter()
        profile.enable()
        for target in targets:
            poll(target)
        profile.disable()
        elapsed = time.perf_counter() - began
        app.stop()
    each = elapsed / len(targets) * 1000
    print(
        f"{len(targets)} sequential polls: {elapsed:.2f}s, {each:.1f} ms each "
        "(under the profiler, which slows Python code about 2x)"
    )
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
