"""The settings of a lake on a local PostgreSQL server and S3Proxy, one lake per name.

>>> from pathlib import Path
>>> from dataflows.servers.postgres import PostgresServer
>>> from dataflows.servers.s3 import S3Server
>>> env = lake_settings(PostgresServer(Path("/pg"), 5433), S3Server(Path("/s3"), 9401), "bench")
>>> env["CITY_LAKE_CATALOG"], env["CITY_LAKE_DATA"], env["CITY_S3_ENDPOINT"]
('postgresql://city@127.0.0.1:5433/bench', 's3://city-lake/bench/', '127.0.0.1:9401')
"""

from __future__ import annotations

from dataflows.servers import postgres as pg
from dataflows.servers import s3 as s3_server


def lake_settings(postgres: pg.PostgresServer, s3: s3_server.S3Server, name: str) -> dict[str, str]:
    """`CITY_*` settings of the lake `name`: a database of that name, files under `name/`.

    The secrets stay in their files; create the database first (`postgres.create_database`).
    """
    return {
        "CITY_LAKE_CATALOG": postgres.database_url(name),
        "CITY_LAKE_CATALOG_PASSWORD_FILE": str(postgres.password_file),
        "CITY_LAKE_DATA": f"s3://{s3_server.BUCKET}/{name}/",
        "CITY_S3_ENDPOINT": s3.endpoint,
        "CITY_S3_USE_SSL": "false",
        "CITY_S3_KEY_ID": s3_server.KEY_ID,
        "CITY_S3_SECRET_FILE": str(s3.secret_file),
    }
