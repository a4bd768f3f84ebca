"""MongoDB for the tests: SecantusDB in-process, or $REPOKIT_TEST_MONGODB_URL."""
