"""CLI command modules; each registers its commands on ``sentemb.cli.app`` when imported."""

from sentemb.commands import core  # noqa: F401
