"""The sensor catalogue: the sensor and asset types a city's flow accepts, from one TOML file.

`load_catalogue(path)` reads and checks it (`CITY_CATALOGUE`, default `data/catalogue.toml`);
`contract.json_schema(catalogue)` publishes the messages it accepts as a JSON Schema.
"""
