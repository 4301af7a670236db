"""The README keeps the two setup commands and a configuration reference that matches the code."""

from __future__ import annotations

from tests.conftest import REPO_ROOT
from tools import gen_config_docs


def test_the_readme_configuration_tables_match_the_services_flags() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    assert gen_config_docs.current(text) == gen_config_docs.render(), (
        "README.md's configuration tables are stale: run `python -m tools.gen_config_docs --write`"
    )


def test_the_readme_gives_the_two_setup_commands() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    assert "make demo" in text
    assert "make test" in text
