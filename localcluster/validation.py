"""Object-meta validation the real API server does in Go code, with its exact wording.

Names are DNS-1123 subdomains by default, DNS-1123 labels for namespaces and DNS-1035 labels for
Services; label keys are qualified names and label values at most 63 characters of a restricted
alphabet. The messages copy the real server's phrasing because tests and users read them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from localcluster import errors
from localcluster.errors import FieldError

Manifest = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_1123_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def dns1123_subdomain(value: str) -> list[str]:
    out = []
    if len(value) > 253:
        out.append("must be no more than 253 characters")
    if not _SUBDOMAIN.match(value):
        out.append(SUBDOMAIN_MSG)
    return out


def dns1123_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not _LABEL_1123.match(value):
        out.append(LABEL_1123_MSG)
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not _LABEL_1035.match(value):
        out.append(LABEL_1035_MSG)
    return out


def path_segment_name(value: str) -> list[str]:
    """RBAC objects accept any name usable as a URL path segment."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


NameCheck = Callable[[str], list[str]]


def qualified_name(value: str) -> list[str]:
    """A label or annotation key: optional DNS-subdomain prefix, '/', name of at most 63 chars."""
    prefix, slash, name = value.rpartition("/")
    out = []
    if slash:
        if not prefix:
            out.append("prefix part must be non-empty")
        else:
            out.extend("prefix part " + msg for msg in dns1123_subdomain(prefix))
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.match(name):
        out.append(QUALIFIED_NAME_MSG)
    return out


def label_value(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        out.append(LABEL_VALUE_MSG)
    return out


def validate_meta(meta: Manifest, namespaced: bool, name_check: NameCheck) -> list[FieldError]:
    """Name, generateName, labels and annotations of `metadata`, as ValidateObjectMeta does."""
    errs: list[FieldError] = []
    name = meta.get("name")
    if not name:
        errs.append(errors.required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(errors.invalid("metadata.name", name, "must be a string"))
    else:
        errs.extend(errors.invalid("metadata.name", name, msg) for msg in name_check(name))
    if namespaced and not meta.get("namespace"):
        errs.append(errors.required("metadata.namespace", ""))
    errs.extend(_validate_labels(meta.get("labels")))
    errs.extend(_validate_annotations(meta.get("annotations")))
    for i, ref in enumerate(meta.get("ownerReferences") or ()):
        errs.extend(_validate_owner_ref(ref, f"metadata.ownerReferences[{i}]"))
    return errs


def _validate_labels(labels: Any) -> list[FieldError]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [errors.invalid("metadata.labels", labels, "must be a map of string keys to string values")]
    errs: list[FieldError] = []
    for key, value in labels.items():
        errs.extend(errors.invalid("metadata.labels", key, msg) for msg in qualified_name(key))
        if not isinstance(value, str):
            errs.append(errors.invalid(f"metadata.labels.{key}", value, "must be a string"))
            continue
        errs.extend(errors.invalid("metadata.labels", value, msg) for msg in label_value(value))
    return errs


def _validate_annotations(annotations: Any) -> list[FieldError]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [errors.invalid("metadata.annotations", annotations, "must be a map of strings")]
    errs: list[FieldError] = []
    total = 0
    for key, value in annotations.items():
        errs.extend(errors.invalid("metadata.annotations", key, msg) for msg in qualified_name(key.lower()))
        if not isinstance(value, str):
            errs.append(errors.invalid(f"metadata.annotations.{key}", value, "must be a string"))
            continue
        total += len(key) + len(value)
    if total > 256 * 1024:
        errs.append(
            errors.FieldError(
                errors.TOO_LONG, "metadata.annotations", errors.OMIT, "must have at most 262144 bytes"
            )
        )
    return errs


def _validate_owner_ref(ref: Any, path: str) -> list[FieldError]:
    if not isinstance(ref, dict):
        return [errors.invalid(path, ref, "must be an object")]
    errs = [
        errors.required(f"{path}.{key}", "")
        for key in ("apiVersion", "kind", "name", "uid")
        if not ref.get(key)
    ]
    return errs
