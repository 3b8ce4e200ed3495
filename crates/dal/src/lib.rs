//! The job database: one API over PostgreSQL (distributed) and SQLite (embedded).
