"""What the AWS SDK's own data says, read (never called): the one module of config that
imports botocore, an exception the import contracts name.

The regions where Clean Rooms exists (botocore's endpoint data) and STS's string rules
(its service model) are facts the configuration is checked against offline.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.loaders
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


@cache
def sts_string_shape(shape: str) -> dict[str, Any]:
    """One string shape of STS's model, as botocore ships it: min, max, pattern."""
    model = botocore.loaders.create_loader().load_service_model("sts", "service-2")
    return dict(model["shapes"][shape])
