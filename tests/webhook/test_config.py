"""Settings from flags and WEBHOOK_* variables: flags win, lists split, bad values exit clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook import config


def test_defaults_serve_https_on_9443_with_the_kubebuilder_cert_dir() -> None:
    cfg = config.load([], {})
    assert (cfg.port, cfg.metrics_port, cfg.max_body_bytes) == (9443, 8080, 7 * 1024 * 1024)
    assert cfg.cert_file == Path("/tmp/k8s-webhook-server/serving-certs/tls.crt")
    assert cfg.operator.allowed_image_prefixes == ()


def test_environment_is_read_and_flags_win() -> None:
    env = {"WEBHOOK_PORT": "1234", "WEBHOOK_METRICS_PORT": "9090", "WEBHOOK_CERT_DIR": "/certs"}
    cfg = config.load(["--port", "5678"], env)
    assert (cfg.port, cfg.metrics_port, cfg.cert_file, cfg.key_file) == (
        5678,
        9090,
        Path("/certs/tls.crt"),
        Path("/certs/tls.key"),
    )


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--allowed-image-prefix", "a/", "--allowed-image-prefix", "b/"], {}, ("a/", "b/")),
        ([], {"WEBHOOK_ALLOWED_IMAGE_PREFIX": "a/, b/,"}, ("a/", "b/")),
    ],
    ids=["repeated flag", "comma-separated variable"],
)
def test_allowed_image_prefixes(argv: list[str], env: dict[str, str], expected: tuple[str, ...]) -> None:
    assert config.load(argv, env).operator.allowed_image_prefixes == expected


def test_operator_image_defaults_and_persistence_switch() -> None:
    cfg = config.load(
        ["--default-epp-image", "reg/epp:1"],
        {"WEBHOOK_PERSIST_DEFAULT_IMAGES": "false", "WEBHOOK_KIT_IMAGE": ""},
    )
    assert (cfg.operator.default_epp_image, cfg.operator.kit_image, cfg.persist_default_images) == (
        "reg/epp:1",
        "",
        False,
    )


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "x"], {}, "invalid int value"),
        ([], {"WEBHOOK_PORT": "x"}, "WEBHOOK_PORT='x'"),
        ([], {"WEBHOOK_PERSIST_DEFAULT_IMAGES": "maybe"}, "expected true or false"),
        (
            ["--default-engine-image", "vllm/vllm-openai:v0.9 "],
            {},
            "'vllm/vllm-openai:v0.9 ': must not contain whitespace or control characters",
        ),
    ],
    ids=["bad flag", "bad variable", "bad boolean", "malformed default image"],
)
def test_bad_values_exit_with_a_usage_message(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        config.load(argv, env)
    assert message in capsys.readouterr().err


def test_describe_lists_every_flag_with_its_variable() -> None:
    table = config.describe()
    assert "| `--allowed-image-prefix` | `WEBHOOK_ALLOWED_IMAGE_PREFIX` |" in table
    assert table.count("\n") == len(config.FLAGS) + 1
