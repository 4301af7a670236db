"""The `python -m certs` commands, run in-process against a temporary directory."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from certs import cli, manifests, pki


def _create(tmp_path: Path, *extra: str) -> None:
    argv = ["create", "--dir", str(tmp_path), "--service", "wh", "--namespace", "sys", *extra]
    assert cli.main(argv) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", dt.timedelta(days=30)),
        ("1d12h", dt.timedelta(hours=36)),
        ("1y", dt.timedelta(days=365)),
        ("90s", dt.timedelta(seconds=90)),
    ],
    ids=["days", "days and hours", "a year", "seconds"],
)
def test_parse_duration_accepts_unit_sums(text: str, expected: dt.timedelta) -> None:
    assert cli.parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "30", "3x", "d30", "1d 2h"], ids=["empty", "no unit", "bad unit", "unit first", "space"]
)
def test_parse_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        cli.parse_duration(text)


def test_create_writes_ca_serving_pair_and_secret(tmp_path: Path) -> None:
    _create(tmp_path, "--san", "127.0.0.1,localhost")
    dns, ips = pki.subject_alt_names((tmp_path / "tls.crt").read_bytes())
    assert dns == ["wh", "wh.sys", "wh.sys.svc", "wh.sys.svc.cluster.local", "localhost"]
    assert ips == ["127.0.0.1"]
    assert pki.is_signed_by((tmp_path / "tls.crt").read_bytes(), (tmp_path / "ca.crt").read_bytes())
    assert (tmp_path / "tls.key").stat().st_mode & 0o777 == 0o600
    secret = yaml.safe_load((tmp_path / "secret.yaml").read_text())
    assert (secret["metadata"]["name"], secret["type"]) == ("wh-tls", "kubernetes.io/tls")


def test_create_twice_reuses_the_ca(tmp_path: Path) -> None:
    _create(tmp_path)
    ca_before = (tmp_path / "ca.crt").read_bytes()
    _create(tmp_path)
    assert (tmp_path / "ca.crt").read_bytes() == ca_before


def test_renew_is_a_no_op_while_the_certificate_is_fresh(tmp_path: Path) -> None:
    _create(tmp_path)
    before = (tmp_path / "tls.crt").read_bytes()
    assert cli.main(["renew", "--dir", str(tmp_path), "--within", "30d"]) == 0
    assert (tmp_path / "tls.crt").read_bytes() == before


def test_renew_reissues_inside_the_window_and_updates_the_secret(tmp_path: Path) -> None:
    _create(tmp_path, "--lifetime", "10d", "--secret-name", "custom")
    before = (tmp_path / "tls.crt").read_bytes()
    assert cli.main(["renew", "--dir", str(tmp_path), "--within", "30d"]) == 0
    after = (tmp_path / "tls.crt").read_bytes()
    assert after != before
    assert pki.subject_alt_names(after) == pki.subject_alt_names(before)
    assert pki.not_after(after) - pki.not_after(before) > dt.timedelta(days=300)
    secret = yaml.safe_load((tmp_path / "secret.yaml").read_text())
    assert secret["metadata"] == {"name": "custom", "namespace": "sys"}
    assert secret["data"]["tls.crt"] == manifests.b64(after)


def test_renew_without_files_explains_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["renew", "--dir", str(tmp_path)]) == 2
    assert "must hold ca.crt" in capsys.readouterr().err


def test_inject_ca_rewrites_the_given_files(tmp_path: Path) -> None:
    _create(tmp_path)
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text(
        "kind: ValidatingWebhookConfiguration\nwebhooks:\n- name: a\n  clientConfig:\n    url: x\n"
    )
    assert cli.main(["inject-ca", "--ca", str(tmp_path / "ca.crt"), str(hooks)]) == 0
    bundle = yaml.safe_load(hooks.read_text())["webhooks"][0]["clientConfig"]["caBundle"]
    assert bundle == manifests.b64((tmp_path / "ca.crt").read_bytes())


def test_module_entry_point_prints_the_cert_manager_annotation() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "certs",
            "cert-manager",
            "--service",
            "wh",
            "--namespace",
            "sys",
            "--annotation",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout == "cert-manager.io/inject-ca-from: sys/wh-serving-cert\n"
