"""The DNS-1035 sanitizer against a plain character-by-character statement of the reference's rule."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared import names


def reference_san(text: str) -> str:
    kept = []
    for ch in text:
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            kept.append(ch)
        elif "A" <= ch <= "Z":
            kept.append(ch.lower())
        elif ch in "._-":
            kept.append("-")
    result = "".join(kept).strip("-")
    while "--" in result:
        result = result.replace("--", "-")
    if not result:
        return "modelservice"
    return "m-" + result if result[0].isdigit() else result


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZz09._-/ Ä€\x00é"), max_size=300) | st.text(max_size=40))
def test_sanitizer_matches_the_reference_rule(text: str) -> None:
    assert names.sanitize_dns1035(text) == reference_san(text)


def test_examples() -> None:
    assert names.sanitize_dns1035("Qwen3.0_6B--Instruct") == "qwen3-0-6b-instruct"
    assert names.sanitize_dns1035("8b") == "m-8b"
    assert names.sanitize_dns1035("___") == "modelservice"
    assert names.sanitize_dns1035("a" * 300) == "a" * 300  # beyond the remembered size: same answer
