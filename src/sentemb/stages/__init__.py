"""Pipeline stages; importing this package registers each one."""

from sentemb.stages import encode  # noqa: F401
