"""`python -m demo` (`make demo`): the whole system on one machine, as separate processes.

The local API server, the admission webhook (TLS, with certificates from `certs`) and the
reconciler run as their own processes, wired together the way a cluster wires them: the real
CRD and webhook configurations from `manifests/` are installed through the API (only the CA
bundle is filled in), the examples go in with `kubectl apply`, and the demo shows what happens.

The modules below are also the toolkit of the end-to-end tests, which start the same topology:
`processes` (supervised child processes), `topology` (certificates, webhook, API server,
reconciler, install), `kube` (a typed view over the official client), `kubectl`, `waiting`
(bounded polls), and for the demo itself `terminal`, `views` and `run`.
"""
