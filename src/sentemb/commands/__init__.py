"""CLI command modules; each registers its commands on ``sentemb.cli_app.app`` (re-exported as ``sentemb.cli.app``) when imported."""

from sentemb.commands import (
    baselines,  # noqa: F401
    bench,  # noqa: F401
    core,  # noqa: F401
    datasets,  # noqa: F401
    distill,  # noqa: F401
    eval,  # noqa: F401
    export,  # noqa: F401
    push,  # noqa: F401
    report,  # noqa: F401
    search,  # noqa: F401
    serve,  # noqa: F401
    train,  # noqa: F401
)
