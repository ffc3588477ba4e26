"""Local servers the lake can use instead of its SQLite catalog and local folder.

PostgreSQL for the catalog (`postgres`), an S3-compatible object store for the files (`s3`),
both started by recipes (`just postgres`, `just s3`) and by the tests. The Kafka broker
lives in `dataflows.kafka`.
"""
