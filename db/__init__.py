"""Database access: pool, migrations and SQL queries."""
