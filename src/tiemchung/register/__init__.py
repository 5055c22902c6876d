"""The register side: the population register's own service, run by the Ministry of Public Security.

It holds the register, answers verification requests online and in batch (service, verifier, jobs), keeps its own
keys and query log, and runs the linkage engine (`linkage`: DuckDB + Splink, Spark for national scale). It never
imports the health side (an import-linter contract checks it); the two sides share only `tiemchung.interchange`.
"""
