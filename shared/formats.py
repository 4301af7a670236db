"""Kubernetes name, label and string formats, as pure checks: the one statement of these rules.

Each check returns the reasons a value breaks the format (empty when it is valid), so a rule can
report every reason at the field the user wrote. The formats are the ones the API server enforces
on the child that receives the value: object names (DNS-1123 labels and subdomains, DNS-1035
labels for Services), label keys and values on pod templates, annotation keys, container port
names, and Gateway API hostnames. Checking them at admission turns a child that would fail at
every reconcile into one clear denial. Image references are the exception: nothing checks them
until a pod is created or pulls, so admission is the first place that can name the field.

Everything else that needs one of these rules takes it from here: the spec rules, the derived-name
check (`shared.namecheck`), the recorded base name (`shared.names`), the CRD's condition type
pattern (`shared.api`) and the tests' conformance harness.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_DNS1123_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_SUBDOMAIN}$")
_QUALIFIED_NAME_PART_RE = re.compile(rf"^{_NAME_PART}$")
_LABEL_VALUE_RE = re.compile(rf"^({_NAME_PART})?$")
# The pattern of HTTPRoute `spec.hostnames` items (Gateway API standard channel).
_GATEWAY_HOSTNAME_RE = re.compile(rf"^(\*\.)?{_DNS1123_SUBDOMAIN}$")
QUALIFIED_NAME_PATTERN = rf"^({_DNS1123_SUBDOMAIN}/)?({_NAME_PART})$"
"""Every valid qualified name (label or annotation key) as one pattern, lengths aside: spelled as
metav1.Condition's `type` pattern, which the CRD declares verbatim."""
# The fast path of `qualified_name`, since most keys are valid.
_QUALIFIED_NAME_RE = re.compile(QUALIFIED_NAME_PATTERN)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
"""metav1.Condition's `reason` pattern, which the CRD declares verbatim."""
_CONDITION_REASON_RE = re.compile(CONDITION_REASON_PATTERN)
DNS1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
"""The characters of a DNS-1035 label (a Service name), lengths aside: see `is_dns1035_label`."""
_DIGITS_AND_DOTS_RE = re.compile(r"^[0-9.]+$")
_PORT_NAME_CHARS_RE = re.compile(r"^[-a-z0-9]+$")
_HAS_LETTER_RE = re.compile(r"[a-z]")
# Unicode whitespace (what str.isspace() calls space; `\s` on str patterns is the same set) and the
# control characters: C0, DEL and C1 (Unicode category Cc).
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
NAME_PART_MAX = 63
LABEL_VALUE_MAX = 63
PORT_NAME_MAX = 15
HOSTNAME_MAX = 253
CONDITION_REASON_MAX = 1024
ANNOTATIONS_MAX_BYTES = 256 * 1024
"""The API server's limit on the summed size of an object's annotation keys and values."""

_LABEL_TEXT = "lowercase letters, digits and '-', starting and ending with a letter or digit"
_SUBDOMAIN_TEXT = (
    "lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a "
    "letter or digit"
)
_NAME_PART_TEXT = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"


def dns1123_label(text: str) -> list[str]:
    """A DNS-1123 label, e.g. a namespace name."""
    if len(text) > DNS1123_LABEL_MAX:
        return [f"must be at most {DNS1123_LABEL_MAX} characters (a DNS-1123 label)"]
    if not _DNS1123_LABEL_RE.match(text):
        return [f"must be a DNS-1123 label: {_LABEL_TEXT}"]
    return []


def dns1123_subdomain(text: str) -> list[str]:
    """A DNS-1123 subdomain, the format of most object names."""
    if len(text) > DNS1123_SUBDOMAIN_MAX:
        return [f"must be at most {DNS1123_SUBDOMAIN_MAX} characters (a DNS-1123 subdomain)"]
    if not _DNS1123_SUBDOMAIN_RE.match(text):
        return [f"must be a DNS-1123 subdomain: {_SUBDOMAIN_TEXT}"]
    return []


def is_dns1123_label(text: str) -> bool:
    """Whether `text` is a DNS-1123 label (what `dns1123_label` finds no reason against)."""
    return len(text) <= DNS1123_LABEL_MAX and _DNS1123_LABEL_RE.match(text) is not None


def is_dns1035_label(text: str) -> bool:
    """A DNS-1035 label: lowercase alphanumerics and '-', starts with a letter, at most 63 characters."""
    return len(text) <= DNS1035_LABEL_MAX and DNS1035_LABEL_RE.match(text) is not None


def qualified_name(text: str) -> list[str]:
    """A label or annotation key: an optional DNS-1123 subdomain prefix and '/', then a name part."""
    if len(text) <= NAME_PART_MAX and _QUALIFIED_NAME_RE.match(text):
        return []  # a prefix this short is a valid subdomain, a name part this short fits
    if text.count("/") > 1:
        return ["must contain at most one '/' (prefix/name)"]
    prefix, slash, name = text.rpartition("/")
    reasons = []
    if slash and not prefix:
        reasons.append("the prefix before '/' must not be empty")
    elif slash:
        reasons += [f"the prefix before '/' {r}" for r in dns1123_subdomain(prefix)]
    if not name:
        reasons.append("the name part must not be empty")
    elif len(name) > NAME_PART_MAX:
        reasons.append(f"the name part must be at most {NAME_PART_MAX} characters")
    elif not _QUALIFIED_NAME_PART_RE.match(name):
        reasons.append(f"the name part must consist of {_NAME_PART_TEXT}")
    return reasons


def label_value(text: str) -> list[str]:
    """A label value (may be empty)."""
    if len(text) > LABEL_VALUE_MAX:
        return [f"must be at most {LABEL_VALUE_MAX} characters"]
    if not _LABEL_VALUE_RE.match(text):
        return [f"must be empty or consist of {_NAME_PART_TEXT}"]
    return []


def annotations_size(annotations: Mapping[str, str]) -> int:
    """The size the API server limits: UTF-8 bytes of every key and value."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())


def annotations_too_large(annotations: Mapping[str, str]) -> bool:
    # A character is at most 4 UTF-8 bytes, so counting characters settles the usual small case.
    chars = sum(len(k) + len(v) for k, v in annotations.items())
    return chars * 4 > ANNOTATIONS_MAX_BYTES and annotations_size(annotations) > ANNOTATIONS_MAX_BYTES


def image_reference(text: str) -> list[str]:
    """A container image reference, as far as admission can tell without a registry.

    Only what no registry accepts: whitespace (leading, trailing or inside) and control
    characters. The API server admits them in a Deployment's pod template, and the pods then fail
    to be created or to pull, long after the object that carried the image was accepted.
    """
    found = _SPACE_OR_CONTROL_RE.search(text)
    if found is None:
        return []
    # Named, because a long value is shown cut short and the offending character may be past the cut.
    at = f"found {found.group()!r} at index {found.start()}"
    return [f"must not contain whitespace or control characters ({at})"]


def port_name(text: str) -> list[str]:
    """A container port name (IANA service name), which a PodMonitor endpoint refers to."""
    if not _PORT_NAME_CHARS_RE.match(text):
        return ["must be a non-empty port name of lowercase letters, digits and '-'"]
    reasons = []
    if len(text) > PORT_NAME_MAX:
        reasons.append(f"must be at most {PORT_NAME_MAX} characters")
    if not _HAS_LETTER_RE.search(text):
        reasons.append("must contain at least one letter")
    if text.startswith("-") or text.endswith("-"):
        reasons.append("must not start or end with '-'")
    if "--" in text:
        reasons.append("must not contain '--'")
    return reasons


def gateway_hostname(text: str) -> list[str]:
    """An HTTPRoute hostname: a DNS name, optionally `*.`-prefixed, never an IP address."""
    if len(text) > HOSTNAME_MAX:
        return [f"must be at most {HOSTNAME_MAX} characters"]
    if not _GATEWAY_HOSTNAME_RE.match(text):
        return [
            f"must be a lowercase DNS name ({_SUBDOMAIN_TEXT}), optionally prefixed with '*.' as its "
            "whole first label"
        ]
    if not _DIGITS_AND_DOTS_RE.match(text):
        return []  # the pattern leaves only IPv4 text to rule out
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return []
    return ["must be a DNS name, not an IP address"]


def is_condition_reason(text: str) -> bool:
    """Whether `text` may be a metav1.Condition's `reason` (status writes with any other fail)."""
    return 0 < len(text) <= CONDITION_REASON_MAX and bool(_CONDITION_REASON_RE.match(text))
