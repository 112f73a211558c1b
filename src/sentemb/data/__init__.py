"""Data: text readers for encoding, benchmark dataset registry and readers, the data folder's location."""

from sentemb.data.location import DATA_ENV, locate_data_dir

__all__ = ["DATA_ENV", "locate_data_dir"]
