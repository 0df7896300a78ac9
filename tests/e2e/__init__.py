"""End-to-end tests: Meltano, the tap, target-postgres and a real PostgreSQL."""
