"""The ways in: the command line, batch jobs and the studio."""
