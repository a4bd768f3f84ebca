"""repokit's MongoDB backend (work in progress)."""
