"""Private Redis and PostgreSQL servers for tests: started on free ports in temporary folders."""
