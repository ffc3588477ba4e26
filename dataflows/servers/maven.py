"""Runtime jars of a Java server, fetched from Maven Central with `mvn` on first use.

The jars of one artifact and its runtime dependencies are copied into a folder of their own
(`lib`), which is then complete or absent: a fetch that fails leaves nothing half-made. The
Kafka broker and the S3 server use it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

Artifact = tuple[str, str, str]
"""(group id, artifact id, version)."""


def fetch_jars(lib: Path, label: str, artifacts: list[Artifact]) -> Path:
    """`lib`, holding the runtime jars of `artifacts`, fetched with `mvn` unless already there.

    `label` names the server in messages ("Apache Kafka 4.1.1").
    """
    stamp = lib / ".complete"
    if stamp.exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SystemExit(f"`mvn` (Apache Maven) is needed to fetch {label}: apt-get install maven")
    build = lib.parent / f"maven-{lib.name}"
    build.mkdir(parents=True, exist_ok=True)
    (build / "pom.xml").write_text(_pom(artifacts))
    tmp = lib.parent / f".{lib.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"fetching {label} from Maven Central ...", file=sys.stderr)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        cwd=build,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"mvn could not fetch {label}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    (tmp / ".complete").write_text(label)
    shutil.rmtree(lib, ignore_errors=True)
    tmp.replace(lib)
    return lib


def _pom(artifacts: list[Artifact]) -> str:
    dependencies = "".join(
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version></dependency>\n"
        for group, artifact, version in artifacts
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>city.stream.analytics</groupId>\n"
        "  <artifactId>server-runtime</artifactId>\n"
        "  <version>1</version>\n"
        "  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{dependencies}  </dependencies>\n"
        "</project>\n"
    )


def java(*args: str) -> list[str]:
    """The command line of the machine's `java` with `args`."""
    found = shutil.which("java")
    if found is None:
        raise SystemExit("Java 17+ is needed: apt-get install openjdk-17-jre-headless")
    return [found, *args]
