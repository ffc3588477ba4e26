"""The dashboard's questions on lakes made for the case: a flow catching up, a slow type."""

from __future__ import annotations

from dashboard import queries
from dataflows import lake
from dataflows.catalogue.load import load_catalogue
from dataflows.lake.rows import Rows
from dataflows.lake.tables import ReadingRow, SensorRow
from tests.dataflows.test_catalogue import city_catalogue

T0 = 1767600000000
MINUTE = 60_000


def sensor(sensor_id: str, sensor_type: str = "noise") -> SensorRow:
    return SensorRow(sensor_id, sensor_type, "Centre", 52.37, 4.89, "", T0)


def reported(sensor_id: str, until_ms: int, every_ms: int = 30_000, metric: str = "laeq"):
    return [
        ReadingRow(sensor_id, ts, metric, 50.0, 0.1, False)
        for ts in range(until_ms - 6 * 3_600_000, until_ms + 1, every_ms)
    ]


def test_a_lake_filled_unevenly_while_the_flow_catches_up_is_not_shown_silent(tmp_path):
    # nine sensors are in the lake up to T0 + 6 h; one partition ran 40 minutes ahead
    con = lake.connect(tmp_path, catalogue=load_catalogue())
    now = T0 + 6 * 3_600_000
    rows = Rows(sensors=[sensor(f"noise-{i}") for i in range(10)])
    for i in range(9):
        rows.readings.extend(reported(f"noise-{i}", now))
    rows.readings.extend(reported("noise-9", now + 40 * MINUTE))
    lake.write(con, rows, tmp_path)
    figures = queries.overview(con)
    assert figures["now"].timestamp() * 1000 == now
    assert figures["sensors_reporting"] == 10
    assert figures["readings_per_s"] == 10 * 10 / 300  # ten per sensor in the last 5 min
    assert set(queries.sensor_status(con)["status"]) == {"ok"}


def test_a_sensor_reporting_every_five_minutes_is_silent_only_after_three(tmp_path):
    con = lake.connect(tmp_path, catalogue=load_catalogue(city_catalogue(tmp_path)))
    now = T0 + 6 * 3_600_000
    noise = [f"noise-{i}" for i in range(5)]
    rows = Rows(sensors=[sensor(s) for s in noise])
    rows.sensors += [sensor("park-1", "parking"), sensor("park-2", "parking")]
    for sensor_id in noise:
        rows.readings.extend(reported(sensor_id, now))
    rows.readings.extend(reported("park-1", now - 14 * MINUTE, 5 * MINUTE, "occupied_bays"))
    rows.readings.extend(reported("park-2", now - 16 * MINUTE, 5 * MINUTE, "occupied_bays"))
    lake.write(con, rows, tmp_path)
    status = queries.sensor_status(con).set_index("sensor_id")["status"].to_dict()
    assert status == {**dict.fromkeys(noise, "ok"), "park-1": "ok", "park-2": "silent"}
