"""SQLAlchemy adapters: tables, repositories and the unit of work (SQLite and PostgreSQL)."""
