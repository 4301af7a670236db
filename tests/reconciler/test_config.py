"""Flags and RECONCILER_* environment variables."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.config import FLAGS, describe, env_name, load, parse_bind


def test_defaults_match_the_reference_operator() -> None:
    config = load([], {})
    assert config.operator.default_engine_image == "ghcr.io/llm-d/llm-d-cuda:v0.5.1"
    assert config.operator.provider == "istio"
    assert config.manager.leader_election is None
    assert (config.manager.workers, config.health_bind, config.metrics_bind) == (2, ":8081", ":8080")


@pytest.mark.parametrize(
    ("argv", "environ", "path", "expected"),
    [
        (["--provider", "gke"], {}, "operator.provider", "gke"),
        ([], {"RECONCILER_PROVIDER": "none"}, "operator.provider", "none"),
        (["--provider", "gke"], {"RECONCILER_PROVIDER": "none"}, "operator.provider", "gke"),
        (["--metrics-endpoint-auth", "false"], {}, "operator.metrics_endpoint_auth", False),
        ([], {"RECONCILER_TRACING_ENABLED": "yes"}, "operator.tracing.enabled", True),
        (["--tracing-sampler-arg", "0.5"], {}, "operator.tracing.sampler_arg", "0.5"),
        (["--epp-flag", "a=1", "--epp-flag", "b=x=y"], {}, "operator.epp_flags", {"a": "1", "b": "x=y"}),
        ([], {"RECONCILER_EPP_FLAG": "a=1,b=2"}, "operator.epp_flags", {"a": "1", "b": "2"}),
        (["--default-gateway-name", ""], {}, "operator.default_gateway_name", ""),
        (["--kit-plain-http", "true"], {}, "operator.kit_plain_http", True),
        (["--operator-version", "v1.2.3"], {}, "operator.version", "v1.2.3"),
        (["--engine-startup-timeout", "600"], {}, "operator.engine_startup_timeout_seconds", 600),
        ([], {"RECONCILER_NAMESPACE": "a, b"}, "manager.namespaces", ("a", "b")),
        (["--workers", "8"], {}, "manager.workers", 8),
        (["--resync-period", "60"], {}, "manager.resync_period", 60.0),
        (["--queue-qps", "5"], {}, "manager.queue_qps", 5.0),
        (["--kube-api-qps", "20", "--kube-api-burst", "40"], {}, "burst", 40),
        (["--kubeconfig", "/k"], {}, "kubeconfig", "/k"),
    ],
    ids=[
        "flag",
        "environment",
        "flag-over-environment",
        "boolean-flag",
        "boolean-environment",
        "tracing-sampler-arg",
        "repeated-pairs",
        "comma-separated-pairs",
        "empty-gateway-disables-the-default-route",
        "kit-plain-http",
        "version",
        "startup-timeout",
        "namespaces",
        "workers",
        "resync",
        "queue-rate",
        "api-burst",
        "kubeconfig",
    ],
)
def test_flag_and_environment(argv: list[str], environ: dict[str, str], path: str, expected: Any) -> None:
    value: Any = load(argv, environ)
    for part in path.split("."):
        value = getattr(value, part)
    assert value == expected


def test_leader_election_settings() -> None:
    env = {"POD_NAMESPACE": "ops", "POD_NAME": "rec-0"}
    config = load(["--leader-elect", "true", "--lease-duration", "20", "--renew-deadline", "12"], env)
    lease = config.manager.leader_election
    assert lease is not None
    assert (lease.name, lease.namespace, lease.lease_duration, lease.renew_deadline, lease.retry_period) == (
        "model-operator-leader-election",
        "ops",
        20.0,
        12.0,
        2.0,
    )


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--provider", "aws"], {}, "provider"),
        ([], {"RECONCILER_WORKERS": "many"}, "RECONCILER_WORKERS='many'"),
        (["--workers", "0"], {}, "--workers must be at least 1"),
        (["--metrics-bind-address", "nowhere"], {}, "bind address must be host:port"),
        (["--epp-flag", "novalue"], {}, "expected KEY=VALUE"),
        (["--leader-elect", "true", "--lease-duration", "5"], {}, "lease duration > renew deadline"),
        (["--tracing-enabled", "maybe"], {}, "expected true or false"),
    ],
    ids=[
        "unknown-provider",
        "bad-number",
        "no-workers",
        "bad-bind",
        "bad-pair",
        "bad-lease-timing",
        "bad-bool",
    ],
)
def test_bad_values_exit_with_a_usage_error(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        load(argv, environ)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("address", "expected"),
    [(":8081", ("0.0.0.0", 8081)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("0", None), ("", None)],
    ids=["any-interface", "loopback-free-port", "zero-disables", "empty-disables"],
)
def test_bind_addresses(address: str, expected: tuple[str, int] | None) -> None:
    assert parse_bind(address) == expected


def test_every_flag_has_an_environment_variable_in_the_table() -> None:
    table = describe()
    for flag in FLAGS:
        assert f"`--{flag.name}` | `{env_name(flag.name)}`" in table
