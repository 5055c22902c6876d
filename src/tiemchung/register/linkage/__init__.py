"""The register side's linkage engine: subjects matched to register people by ID or by probabilistic linkage
(Splink on DuckDB, or on Spark through the same SQL), with the model, blocking and the 1:1 rule."""
