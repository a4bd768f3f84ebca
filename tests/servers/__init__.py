"""Session-scoped test servers, started by the tests themselves (README.md, "Two commands")."""
