"""MySQL → Parquet lake extractor with hybrid CDC and watermarks kept in the lake."""

__version__ = "0.1.0"
