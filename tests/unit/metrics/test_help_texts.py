"""Every HELP text says when its value is made: polled in the background, or at scrape time."""

from __future__ import annotations

import re

from exporter.collectors import REGISTRY
from exporter.core.series import COLLECTOR_POLLED, POLLED, SCRAPE_TIME, OutputSettings
from exporter.metrics import declared, health

EVERYTHING = OutputSettings(trusted_creator_accounts=("444444444444",))
COUNTED = "Counted by the background poller."


def test_families_that_change_with_the_clock_say_they_are_computed_at_scrape_time() -> None:
    scrape_time = [
        declared.age_family(age, [], 0.0) for spec in REGISTRY for age in spec.rendering.ages
    ]
    scrape_time += [health.stale_family(kind, []) for kind in (health.TARGET, health.COLLECTOR)]
    assert len(scrape_time) >= 6
    for family in scrape_time:
        assert family.documentation.endswith(SCRAPE_TIME), family.name


def test_families_of_poll_data_say_they_are_polled_in_the_background() -> None:
    polled = [f for spec in REGISTRY for f in declared.families(spec, [], EVERYTHING)]
    polled += [
        f for kind in (health.TARGET, health.COLLECTOR) for f in health.health_families(kind, [])
    ]
    assert len(polled) >= 30
    for family in polled:
        doc = family.documentation
        assert doc.endswith((POLLED, COLLECTOR_POLLED, COUNTED)), family.name
        assert SCRAPE_TIME not in doc, family.name


def test_help_texts_keep_the_acronyms_aws_writes() -> None:
    texts = [f.documentation for spec in REGISTRY for f in declared.families(spec, [], EVERYTHING)]
    lowered = [t for t in texts if re.search(r"\b(Ml|Sql|Crpu|Iam|Aws)\b", t)]
    assert any(" ML " in t for t in texts)  # the ML collectors are in the registry
    assert lowered == []
