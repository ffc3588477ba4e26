"""What the flow tells about itself: throughput, lag, commits, the lake's size.

`meter` counts what each lake-sink partition commits and turns it into `flow_metrics` rows;
`prometheus` serves the latest of them in Prometheus's text format.
"""
