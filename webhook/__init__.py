"""The ModelService admission webhook: pure admission decisions (`admission`, `reviews`,
`restarts`), the aiohttp service around them (`app`, `handling`, `tls`, `metrics`, `logs`,
`server`) and its settings (`config`). Run it with `python -m webhook`."""
