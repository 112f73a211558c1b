"""Pipeline stages; importing this package registers each one."""

from sentemb.stage_registry import STAGES, Stage
from sentemb.stages import (
    bench,  # noqa: F401
    distill,  # noqa: F401
    encode,  # noqa: F401
    eval,  # noqa: F401
    export,  # noqa: F401
    report,  # noqa: F401
    search,  # noqa: F401
    train,  # noqa: F401
    whiten,  # noqa: F401
    wordvec,  # noqa: F401
)


def load_stages() -> dict[str, Stage]:
    """Every registered stage, by type name (importing this package registered them)."""
    return STAGES
