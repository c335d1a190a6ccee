"""Sinks: deliver windows where reps work (webhooks, Slack). See `streams.sinks.service`."""
