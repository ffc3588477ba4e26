"""Kafka: client settings and the wire format, a local broker, a producer."""
