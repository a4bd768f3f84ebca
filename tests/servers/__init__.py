"""Session-scoped test servers, started by the tests themselves (DESIGN.md, "Test servers")."""
