"""Helpers for tests that drive the real Meltano CLI and real loaders against the simulator.

- `project.MeltanoProject` runs `meltano` in the repository's project with every setting given by
  environment variables, a throw-away system database (state) and no `.env`.
- `destinations` reads back what each loader wrote (JSON Lines, DuckDB, PostgreSQL).
- `tables` compares that content with the simulator's ground truth.
"""
