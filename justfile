# City stream analytics: `just --list` shows every recipe.

set positional-arguments
set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / ".venv"
python := venv / "bin" / "python"

# list the recipes
default:
    @just --list

# run the simulator flow and the live dashboard (Ctrl-C stops both)
[no-exit-message]
demo: _venv
    @{{python}} -m dataflows.cli.demo

# run the whole test suite (real lake, real browser)
test *args: _venv _chromium _kcat _postgres
    {{python}} -m pytest "$@"

# run the city flow with Bytewax recovery on (pass -w, or -i/-a, after `just flow`)
flow *args: _venv
    {{python}} -m dataflows.cli.flow "$@"

# forget the flow's recovery state, so the next `just flow` starts afresh
reset-recovery: _venv
    {{python}} -c 'import shutil; from dataflows.settings import Settings; shutil.rmtree(Settings.from_env().recovery_dir, ignore_errors=True)'

# drop the snapshots a killed run left in a recovery store gathered in FOLDER (docs/scaling.md)
repair-recovery folder: _venv
    {{python}} -m dataflows.cli.repair_recovery "$1"

# kill the Kafka flow with SIGKILL N times (default 10) and check nothing was lost or duplicated
chaos *args: _venv
    {{python}} -m dataflows.cli.chaos "$@"

# serve the dashboard alone (CITY_DASHBOARD_HOST, CITY_DASHBOARD_PORT)
dashboard: _venv
    {{python}} -m dashboard

# query the lake: just sql "SELECT ..." | just sql --csv "SELECT ..." | just sql (DuckDB shell)
sql *args: _venv
    {{python}} -m dataflows.cli.sql "$@"

# benchmark the full flow against the bare detectors (--json for one JSON object)
bench *args: _venv
    {{python}} -m dataflows.cli.bench "$@"

# lint, format check and type check (ruff, mypy)
lint: _venv
    {{python}} -m ruff check .
    {{python}} -m ruff format --check .
    {{python}} -m mypy

# apply the retention periods, merge small lake files, drop expired snapshots and files
compact: _venv
    {{python}} -m dataflows.cli.compact

# create .venv with the pinned dependencies when missing or out of date
_venv:
    #!/usr/bin/env bash
    set -euo pipefail
    stamp="{{venv}}/.installed"
    if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt requirements.lock ]; then exit 0; fi
    py="$(command -v python3.11 || command -v python3)"
    "$py" -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is needed"'
    [ -x "{{python}}" ] || "$py" -m venv "{{venv}}"
    echo "installing the locked dependencies (requirements.lock) into {{venv}} ..."
    "{{python}}" -m pip install --quiet --upgrade pip
    "{{python}}" -m pip install --quiet -r requirements.lock
    "{{python}}" -m pip install --quiet --no-deps -e .
    touch "$stamp"

# resolve pyproject.toml's pins again into requirements.lock (after changing a pin)
lock: _venv
    {{python}} -m pip install --quiet uv==0.13.9
    {{python}} -m uv pip compile pyproject.toml --extra dev --python-version 3.11 \
        --python-platform x86_64-manylinux_2_31 --custom-compile-command "just lock" \
        --annotation-style line -o requirements.lock

# install Debian's PostgreSQL server when missing (the lake's catalog on a server)
_postgres:
    #!/usr/bin/env bash
    set -euo pipefail
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && exit 0
    if [ "$(id -u)" = 0 ]; then
        echo "installing Debian's postgresql for the lake's server catalog ..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "the lake's server catalog needs Debian's postgresql: sudo apt-get install postgresql" >&2
        exit 1
    fi

# install Debian's chromium for the browser test when missing
_kcat:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v kcat >/dev/null && exit 0
    if [ "$(id -u)" = 0 ]; then
        echo "installing Debian's kcat for the Kafka contract test ..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null
    else
        echo "the kcat test needs Debian's kcat: sudo apt-get install kcat" >&2
    fi

_chromium:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x /usr/bin/chromium ] && exit 0
    if [ "$(id -u)" = 0 ]; then
        echo "installing Debian's chromium for the end-to-end dashboard test ..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "the browser test needs Debian's chromium: sudo apt-get install chromium" >&2
        exit 1
    fi

# start a local Apache Kafka broker (KRaft) on 127.0.0.1:CITY_KAFKA_PORT (default 9092)
kafka: _venv
    {{python}} -m dataflows.cli.kafka_broker start
    {{python}} -m dataflows.cli.kafka_topics

# start a local PostgreSQL on 127.0.0.1:CITY_POSTGRES_PORT (5432) for the lake's catalog
postgres: _venv _postgres
    {{python}} -m dataflows.cli.postgres_server start

# stop the local PostgreSQL
postgres-stop: _venv
    {{python}} -m dataflows.cli.postgres_server stop

# start a local S3-compatible store (S3Proxy) on 127.0.0.1:CITY_S3_PORT (9400) for the lake's files
s3: _venv
    {{python}} -m dataflows.cli.s3_server start

# stop the local S3 store
s3-stop: _venv
    {{python}} -m dataflows.cli.s3_server stop

# send alert events to the webhooks and e-mail of CITY_ALERT_CHANNELS (--once: one pass)
notify *args: _venv
    {{python}} -m dataflows.cli.notify "$@"

# print the JSON Schema of the messages the catalogue accepts (CITY_CATALOGUE; --out FILE)
contract *args: _venv
    {{python}} -m dataflows.cli.contract "$@"

# create the readings and alerts topics where missing (CITY_KAFKA_PARTITIONS, _REPLICATION)
kafka-topics: _venv
    {{python}} -m dataflows.cli.kafka_topics

# stop the local Kafka broker
kafka-stop: _venv
    {{python}} -m dataflows.cli.kafka_broker stop

# publish the simulator's readings to Kafka (CITY_KAFKA_*, CITY_SIM_*; --json for a summary)
produce *args: _venv
    {{python}} -m dataflows.cli.produce "$@"

# replay recorded CSV/Parquet files through the flow: just replay PATH_OR_GLOB [--labels a,b]
replay *args: _venv
    {{python}} -m dataflows.cli.replay "$@"

# score the models: just evaluate skab|cmapss|gecco [PATH] [--json] | just evaluate simulator|assets|zoo [--json]
evaluate *args: _venv
    {{python}} -m dataflows.cli.evaluate "$@"
