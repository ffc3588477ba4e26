"""Where a lake lives: its catalog (SQLite in a folder, or PostgreSQL) and its data files.

One machine needs nothing but a folder (`CITY_LAKE`): `catalog.sqlite` and `files/`. To
share the lake between hosts, the catalog goes to PostgreSQL (`CITY_LAKE_CATALOG`) and the
files to S3-compatible object storage (`CITY_LAKE_DATA=s3://bucket/prefix/`); passwords and
keys come from settings marked secret (or their `_FILE`s), are handed to DuckDB only when a
connection is made, and never appear in the address's text.

>>> LakeAddress(Path("/srv/lake")).on_server, LakeAddress(Path("/srv/lake")).data_path()
(False, '/srv/lake/files/')
>>> remote = LakeAddress(
...     Path("lake"), catalog="postgresql://city:pw@db:5432/city", data="s3://city-lake/prod"
... )
>>> str(remote)
'catalog postgresql://city:***@db:5432/city, files s3://city-lake/prod/'
>>> conninfo(remote.catalog, None)
"host='db' port='5432' dbname='city' user='city' password='pw'"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from dataflows.settings import Settings


@dataclass(frozen=True)
class S3Access:
    """How DuckDB reaches the object store of the lake's files."""

    endpoint: str = ""
    """`host:port`; empty = Amazon S3."""
    region: str = "us-east-1"
    url_style: str = "auto"
    use_ssl: bool = True
    key_id: str | None = None
    secret: str | None = field(default=None, repr=False)

    def style(self) -> str:
        if self.url_style != "auto":
            return self.url_style
        return "path" if self.endpoint else "vhost"


@dataclass(frozen=True)
class LakeAddress:
    """A lake's catalog and data path; a bare folder is the one-machine default."""

    folder: Path
    """The SQLite catalog and files by default; with a server catalog, nothing is kept here."""
    catalog: str = ""
    """A PostgreSQL connection (URI or `key=value` words); empty = SQLite in `folder`."""
    password: str | None = field(default=None, repr=False)
    data: str = ""
    """Where the Parquet files go (a folder, or `s3://bucket/prefix/`); empty = `folder/files`."""
    s3: S3Access = field(default_factory=S3Access)

    @property
    def on_server(self) -> bool:
        """Whether the catalog is on a PostgreSQL server (several hosts can share it)."""
        return bool(self.catalog)

    def data_path(self) -> str:
        path = self.data or str(self.folder.resolve() / "files")
        return path if path.endswith("/") else path + "/"

    def local_files(self) -> Path | None:
        """The local folder of the data files, if they are not in object storage."""
        path = self.data_path()
        return None if "://" in path else Path(path)

    def __str__(self) -> str:
        if not self.on_server and not self.data:
            return str(self.folder)
        catalog = _masked(self.catalog) if self.on_server else str(self.folder / "catalog.sqlite")
        return f"catalog {catalog}, files {self.data_path()}"

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeAddress:
        s3 = S3Access(
            settings.s3_endpoint,
            settings.s3_region,
            settings.s3_url_style,
            settings.s3_use_ssl,
            settings.s3_key_id,
            settings.s3_secret,
        )
        return cls(
            settings.lake,
            settings.lake_catalog,
            settings.lake_catalog_password,
            settings.lake_data,
            s3,
        )


Lake = str | os.PathLike | LakeAddress
"""What the lake's functions accept: a folder, or a full address."""


def as_address(lake: Lake) -> LakeAddress:
    return lake if isinstance(lake, LakeAddress) else LakeAddress(Path(lake))


def conninfo(catalog: str, password: str | None) -> str:
    """Libpq `key=value` words for `catalog` (a URI or words), with `password` if given."""
    if catalog.startswith(("postgresql://", "postgres://")):
        url = urlsplit(catalog)
        words = {
            "host": unquote(url.hostname or ""),
            "port": str(url.port or ""),
            "dbname": unquote(url.path.lstrip("/")),
            "user": unquote(url.username or ""),
            "password": unquote(url.password or ""),
            **dict(parse_qsl(url.query)),
        }
        text = " ".join(f"{k}={_quoted(v)}" for k, v in words.items() if v)
    else:
        text = catalog
    if password:
        text += f" password={_quoted(password)}"
    return text


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _masked(catalog: str) -> str:
    """`catalog` without its password, for messages."""
    if "://" in catalog:
        url = urlsplit(catalog)
        if url.password:
            return catalog.replace(f":{url.password}@", ":***@", 1)
        return catalog
    words = catalog.split()
    return " ".join("password=***" if w.startswith("password=") else w for w in words)
