"""How well the models do on labelled streams: one module per dataset, reports, the sweep."""
