"""repokit's SQLAlchemy backend (work in progress)."""
