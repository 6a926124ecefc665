"""Poll worker processes behind one /metrics: ownership, same output, reload, restarts, exit."""

from __future__ import annotations

import multiprocessing
import random
from dataclasses import replace

from exporter.collectors.collaborations import PollData
from exporter.core.model import CollectorState, Snapshot, Target
from exporter.core.stats import ApiStatsView, TargetApiCounts
from exporter.polling.pool import WorkerPool
from exporter.polling.sharding import shard_of, split_targets, worker_concurrency, worker_of
from exporter.polling.worker import Diff, Update


def test_every_account_has_exactly_one_worker_and_a_replica_spreads_over_all() -> None:
    rng = random.Random(7)
    accounts = [f"{rng.randrange(10**11, 10**12)}" for _ in range(2000)]
    # Within one replica of two, both workers get a fair share: the worker hash is
    # salted apart from the replica hash (with the same scores all would go to one).
    mine = [a for a in accounts if shard_of(a, 2) == 0]
    shares = [sum(1 for a in mine if worker_of(a, 2) == w) for w in range(2)]
    assert min(shares) > 0.4 * len(mine)
    targets = {(a, r): (Target(a, r), None) for a in accounts for r in ("us-east-1", "eu-west-2")}
    split = split_targets(targets, 3)  # type: ignore[arg-type]
    keys = [set(share) for share in split]
    assert sum(map(len, keys)) == len(targets) == len(set().union(*keys))
    for share in keys:  # an account's regions stay in one worker (one role, one bucket)
        owners = {worker_of(a, 3) for a, _ in share}
        assert len(owners) == 1
    assert [worker_concurrency(16, n) for n in (1, 2, 3, 32)] == [16, 8, 6, 1]


def test_a_worker_ships_only_what_changed() -> None:
    diff = Diff()
    a: CollectorState[None] = CollectorState(Target("1", "r"))
    b: CollectorState[None] = CollectorState(Target("2", "r"))
    first, removed = diff.states(
        Snapshot({a.target.key: a, b.target.key: b}, primary="collaborations"), None
    )
    assert [s for _, _, s, _ in first] == [a, b]
    assert removed == ()
    a2: CollectorState[None] = CollectorState(Target("1", "r"), polls=1)
    snapshot = Snapshot({a.target.key: a2, b.target.key: b}, primary="collaborations")
    changed, _ = diff.states(snapshot, {("collaborations", a.target.key)})
    assert changed == (("collaborations", a.target.key, a2, False),)
    assert diff.states(snapshot, None) == ((), ())  # nothing new by identity
    gone, removed = diff.states(Snapshot({a.target.key: a2}, primary="collaborations"), None)
    assert gone == ()
    assert removed == (("collaborations", b.target.key),)
    # The same data in a new state (a poll that found nothing new) goes without its data.
    data = PollData((), {"ACTIVE": 0}, None)
    with_data: CollectorState[PollData] = CollectorState(Target("1", "r"), data, polls=2)
    diff.states(Snapshot({a.target.key: with_data}, primary="collaborations"), None)
    again = replace(with_data, data=PollData((), {"ACTIVE": 0}, None), polls=3)
    (shipped,), _ = diff.states(Snapshot({a.target.key: again}, primary="collaborations"), None)
    assert shipped == ("collaborations", a.target.key, replace(again, data=None), True)
    diff.reset()  # asked to resend: everything goes again, data included
    (full,), _ = diff.states(Snapshot({a.target.key: again}, primary="collaborations"), None)
    assert full == ("collaborations", a.target.key, again, False)
    counts = TargetApiCounts()
    view = ApiStatsView({a.target.key: counts}, {})
    assert diff.tallies(view)[0] == ((a.target.key, counts),)
    assert diff.tallies(view) == ((), None)
    assert diff.tallies(ApiStatsView({}, {}))[0] == ((a.target.key, None),)


def test_data_the_pool_never_had_makes_it_ask_for_everything_again() -> None:
    pool = WorkerPool(1)
    ours, theirs = multiprocessing.Pipe()
    handle = pool._handles[0]
    handle.conn = ours
    state: CollectorState[PollData] = CollectorState(Target("1", "r"), polls=2)
    update = Update((("collaborations", ("1", "r"), state, True),), (), (), None, False)
    pool._apply(handle, 0, update)
    assert theirs.poll(1)
    assert theirs.recv() == ("resend",)
    assert dict(pool.snapshot.states) == {}  # no state without its data
