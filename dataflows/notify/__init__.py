"""Alerts that reach people: webhooks and e-mail, delivered at least once from the lake.

The lake is the outbox: `events.alert_events` reads what happened to alerts (opened, closed
by the flow; acknowledged, resolved in the dashboard), `notifier.Notifier` sends each event
to every channel whose filter matches, and records each attempt in `alert_deliveries`, which
is also how it knows what is still to send. `just notify` runs it.
"""
