"""newsetl: article feeds and post archives into a clean DuckDB warehouse, orchestrated by Prefect."""

__version__ = "0.1.0"
