"""The offline ModelService command line: ``render``, ``validate`` and ``crd``, no cluster needed.

``render`` prints every child object the reconciler would create for a ModelService, ``validate``
runs every admission rule that needs no cluster over files and directories (CI for manifests), and
``crd`` prints the generated CustomResourceDefinition. Both ``render`` and ``validate`` first apply
what the mutating webhook would (schema and image defaults, the recorded DNS-1035 name), so they
see the object exactly as the cluster would store it. Exit codes: 0 success, 1 an invalid
ModelService, 2 unreadable input or bad usage. Errors are one line each, never a traceback.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from shared import api, cli_settings, crd, defaulting, validation, yamlio
from shared.settings import OperatorSettings

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_INPUT = 2
DEFAULT_NAMESPACE = "default"

_EPILOG = """\
examples:
  modelservice validate examples/
  modelservice render -f examples/minimal.yaml
  modelservice render -f ms.yaml --set provider=none --set default_gateway_name= -o json
  modelservice crd > manifests/crd/model.otterscale.io_modelservices.yaml

exit codes: 0 ok, 1 invalid ModelService, 2 unreadable input or bad usage
"""
_RENDER_HELP = (
    "Print every child object the reconciler would create, in apply order, as multi-document YAML "
    "or a JSON List. The file may hold several ModelServices; a missing namespace means 'default'."
)
_VALIDATE_HELP = (
    "Run every admission rule that needs no cluster. Directories are searched recursively for "
    "*.yaml, *.yml and *.json; multi-document files are checked document by document; documents "
    "of other kinds are skipped."
)


def _add_settings_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="YAML/JSON file of operator settings (snake_case or camelCase keys), as the services' "
        "--settings-file",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. provider=none, tracing.enabled=true, epp_flags.foo=bar "
        "(values are YAML scalars; repeatable)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelservice",
        description=f"Render, validate and describe {api.KIND} ({api.API_VERSION}) manifests offline.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser(
        "render", help="print the child objects of each ModelService", description=_RENDER_HELP
    )
    render.add_argument(
        "-f", "--filename", required=True, type=Path, help="ModelService file ('-' reads stdin)"
    )
    _add_settings_args(render)
    render.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml", help="output format")
    render.set_defaults(func=_render)

    check = sub.add_parser(
        "validate", help="check ModelService files and directories", description=_VALIDATE_HELP
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR")
    _add_settings_args(check)
    check.set_defaults(func=_validate)

    sub.add_parser("crd", help="print the ModelService CustomResourceDefinition").set_defaults(func=_crd)
    return parser


# --- shared steps --------------------------------------------------------------------------------


def _is_modelservice(body: Any) -> bool:
    return isinstance(body, dict) and body.get("kind") == api.KIND


def _describe(body: Any) -> str:
    if not isinstance(body, dict):
        return f"a {type(body).__name__}"
    meta = body.get("metadata")
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    return f"{body.get('apiVersion', '?')} {body.get('kind', '?')} {name}".rstrip()


def _where(doc: yamlio.Document) -> str:
    return f"{doc.source}:doc {doc.index}"


def _check(body: dict[str, Any], settings: OperatorSettings) -> validation.Report:
    """The object as the webhook would store it on CREATE, then every offline rule."""
    obj = copy.deepcopy(body)
    meta = obj.setdefault("metadata", {})
    if isinstance(meta, dict) and not meta.get("namespace"):
        meta["namespace"] = DEFAULT_NAMESPACE
    report = validation.validate(defaulting.defaulted(obj, settings), settings)
    if obj.get("apiVersion") != api.API_VERSION:
        wrong = validation.FieldError(
            "apiVersion",
            f"Unsupported value: {obj.get('apiVersion')!r}: supported values: {api.API_VERSION!r}",
        )
        report = validation.Report(tuple(sorted((wrong, *report.errors))), report.warnings, report.model)
    return report


def _print_report(doc: yamlio.Document, report: validation.Report, out: TextIO) -> None:
    for error in report.errors:
        print(f"{_where(doc)}: {error}", file=out)
    for warning in report.warnings:
        print(f"{_where(doc)}: warning: {warning}", file=out)


def _read(path: Path) -> list[yamlio.Document]:
    if str(path) == "-":
        return yamlio.parse_documents(sys.stdin.read(), "<stdin>")
    return yamlio.read_documents(path)


# --- render --------------------------------------------------------------------------------------


def _render(args: argparse.Namespace) -> int:
    settings = cli_settings.load_settings(args.settings, args.overrides)
    # Imported here: only render needs the builders, and validate stays fast without them.
    from shared.builders import build_all

    rendered: list[tuple[str, list[dict[str, Any]]]] = []
    for doc in _read(args.filename):
        if not _is_modelservice(doc.body):
            print(f"{_where(doc)}: skipped: {_describe(doc.body)} is not a {api.KIND}", file=sys.stderr)
            continue
        report = _check(doc.body, settings)
        _print_report(doc, report, sys.stderr)
        if report.errors or report.model is None:
            return EXIT_INVALID
        ms = report.model
        title = f"{api.KIND} {ms.metadata.namespace}/{ms.metadata.name} ({_where(doc)})"
        rendered.append((title, list(build_all(ms, settings).objects)))
    _write_rendered(rendered, args.output, sys.stdout)
    return EXIT_OK


def _write_rendered(rendered: list[tuple[str, list[dict[str, Any]]]], output: str, out: TextIO) -> None:
    if output == "json":
        items = [obj for _, objs in rendered for obj in objs]
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, out, indent=2)
        out.write("\n")
        return
    for title, objs in rendered:
        out.write(f"# {title}: {len(objs)} objects\n")
        out.write(yamlio.dump_yaml_documents(objs))


# --- validate ------------------------------------------------------------------------------------


@dataclass
class _Tally:
    valid: int = 0
    invalid: int = 0
    errors: int = 0
    warnings: int = 0
    skipped: int = 0
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        checked = self.valid + self.invalid
        text = (
            f"{checked} {api.KIND}{'s' if checked != 1 else ''} checked: {self.valid} valid, "
            f"{self.invalid} invalid ({self.errors} errors, {self.warnings} warnings)"
        )
        if self.skipped:
            text += f"; {self.skipped} other document{'s' if self.skipped != 1 else ''} skipped"
        if self.unreadable:
            text += f"; {len(self.unreadable)} input{'s' if len(self.unreadable) != 1 else ''} unreadable"
        return text


def _validate(args: argparse.Namespace) -> int:
    settings = cli_settings.load_settings(args.settings, args.overrides)
    tally = _Tally()
    for path in args.paths:
        try:
            files = list(yamlio.expand_paths([path]))
            docs = [doc for file in files for doc in yamlio.read_documents(file)]
        except yamlio.InputError as e:
            print(f"error: {e}")
            tally.unreadable.append(str(path))
            continue
        for doc in docs:
            _validate_document(doc, settings, tally)
    print(tally.summary())
    if tally.unreadable:
        return EXIT_INPUT
    return EXIT_INVALID if tally.invalid else EXIT_OK


def _validate_document(doc: yamlio.Document, settings: OperatorSettings, tally: _Tally) -> None:
    if not _is_modelservice(doc.body):
        print(f"{_where(doc)}: skipped: {_describe(doc.body)} is not a {api.KIND}")
        tally.skipped += 1
        return
    report = _check(doc.body, settings)
    _print_report(doc, report, sys.stdout)
    if report.errors:
        tally.invalid += 1
    else:
        tally.valid += 1
    tally.errors += len(report.errors)
    tally.warnings += len(report.warnings)


# --- crd and main --------------------------------------------------------------------------------


def _crd(args: argparse.Namespace) -> int:
    sys.stdout.write(crd.render_crd_yaml())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (tests call it in-process)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits on --help (0) and on bad usage (2)
        return e.code if isinstance(e.code, int) else EXIT_INPUT
    try:
        code: int = args.func(args)
    except yamlio.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `modelservice render ... | head` closed the pipe
        return EXIT_OK
    return code
