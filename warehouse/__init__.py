"""The DuckDB warehouse: schema migrations, views, the loader's connection and the SQL access layer."""
