"""The regions where the Clean Rooms API exists, as botocore's endpoint data lists them."""

from __future__ import annotations

from functools import cache

import botocore.session

_PARTITIONS = ("aws", "aws-us-gov", "aws-cn")


@cache
def cleanrooms_regions() -> tuple[str, ...]:
    """Every region of every partition that botocore lists for ``cleanrooms``."""
    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in _PARTITIONS:
        regions.update(session.get_available_regions("cleanrooms", partition_name=partition))
    return tuple(sorted(regions))
