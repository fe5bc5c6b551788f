"""The exporter: a flow as `flow.json` plus a standalone, generated `webhook.py`."""
