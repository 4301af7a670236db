"""Load generator, payloads and baseline server for the webhook benchmark (`python -m bench.webhook.run`)."""
