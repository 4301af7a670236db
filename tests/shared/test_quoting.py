"""Quoting pods' words in a status: one line, short, and never a credential."""

from __future__ import annotations

import pytest

from shared.quoting import MAX_QUOTE, quote, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'failed to pull "https://robot:s3cr3t@registry.example.com/models/qwen:1": 401 Unauthorized',
            'failed to pull "https://***@registry.example.com/models/qwen:1": 401 Unauthorized',
        ),
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig", "Authorization: Bearer ***"),
        (
            "vllm serve /models --api-key sk-live-abc --port 8000",
            "vllm serve /models --api-key *** --port 8000",
        ),
        ("--hf-token=hf_abc --password 'p w'", "--hf-token=*** --password ***"),
        ('{"auths":{"r.io":{"auth":"dXNlcjpwYXNz"}}}', '{"auths":{"r.io":{"auth":"***"}}}'),
        ('{"password": "hunter2", "user": "me"}', '{"password": "***", "user": "me"}'),
        ("HF_TOKEN=hf_x, AWS_SECRET_ACCESS_KEY=abc; ok=1", "HF_TOKEN=***, AWS_SECRET_ACCESS_KEY=***; ok=1"),
        ("token hf_AbCdEfGhIjKlMnOpQrStUvWx leaked", "token *** leaked"),
        ("key sk-proj-0123456789abcdefXYZ here", "key *** here"),
        ("id AKIAIOSFODNN7EXAMPLE in logs", "id *** in logs"),
        ('secret "hf-token" not found', 'secret "hf-token" not found'),
        (
            "0/6 nodes are available: 6 Insufficient nvidia.com/gpu. preemption: 0/6 nodes are available",
            "0/6 nodes are available: 6 Insufficient nvidia.com/gpu. preemption: 0/6 nodes are available",
        ),
        ("unauthorized: authentication required", "unauthorized: authentication required"),
    ],
    ids=[
        "url-password",
        "bearer",
        "api-key-argument",
        "token-and-password-arguments",
        "docker-config-auth",
        "json-password",
        "env-assignments",
        "hugging-face-token",
        "openai-style-key",
        "aws-access-key",
        "kubelet-names-a-secret",
        "scheduler-message-untouched",
        "registry-message-untouched",
    ],
)
def test_credentials_are_masked_and_ordinary_words_kept(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_quote_is_one_line_scrubbed_and_cut() -> None:
    assert quote("Traceback:\n  File x\n\tValueError: bad --api-key abc\n") == (
        "Traceback: File x ValueError: bad --api-key ***"
    )
    long = quote("x" * 1000)
    assert len(long) == MAX_QUOTE
    assert long.endswith("...")
    assert quote(None) == ""
