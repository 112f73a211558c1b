"""Data: text readers for encoding, benchmark dataset registry and readers."""
