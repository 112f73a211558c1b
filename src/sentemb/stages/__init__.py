"""Pipeline stages; importing this package registers each one."""

from sentemb.stages import (
    bench,  # noqa: F401
    distill,  # noqa: F401
    encode,  # noqa: F401
    eval,  # noqa: F401
    export,  # noqa: F401
    report,  # noqa: F401
    train,  # noqa: F401
    whiten,  # noqa: F401
    wordvec,  # noqa: F401
)
