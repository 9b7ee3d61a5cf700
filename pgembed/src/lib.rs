//! A private PostgreSQL started from the installed server binaries, and fresh databases for tests.
