"""Name safety: every derived name and label value Kubernetes would reject, found before admission.

The reference operator derives names without checking them, so a long ModelService name is accepted
and then fails child by child at reconcile time. This check names the derived object and the limit
it breaks, so the webhook can refuse such a ModelService up front. It never renames anything.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared import formats, names
from shared.api import ModelService
from shared.problems import Problem


def _subdomain(path: str, what: str, value: str) -> Iterator[Problem]:
    if len(value) > formats.DNS1123_SUBDOMAIN_MAX:
        yield Problem(
            path,
            f"derived {what} name {value!r} is {len(value)} characters; "
            f"the limit is {formats.DNS1123_SUBDOMAIN_MAX}",
        )
    elif formats.dns1123_subdomain(value):  # reasons found: said here of the derived name
        yield Problem(path, f"derived {what} name {value!r} is not a valid DNS-1123 subdomain")


def _dns1035(path: str, what: str, value: str) -> Iterator[Problem]:
    if len(value) > formats.DNS1035_LABEL_MAX:
        yield Problem(
            path,
            f"derived {what} name {value!r} is {len(value)} characters; {what} names are DNS-1035 labels "
            f"of at most {formats.DNS1035_LABEL_MAX} characters",
        )
    elif not formats.is_dns1035_label(value):
        yield Problem(path, f"derived {what} name {value!r} is not a valid DNS-1035 label")


def _label(path: str, what: str, value: str) -> Iterator[Problem]:
    if len(value) > formats.LABEL_VALUE_MAX:
        yield Problem(
            path,
            f"{value!r} is used as the {what} label value and is {len(value)} characters; "
            f"label values are at most {formats.LABEL_VALUE_MAX} characters",
        )
    elif formats.label_value(value):  # reasons found: said here of the label
        yield Problem(path, f"{value!r} is used as the {what} label value and is not a valid label value")


def check_names(ms: ModelService) -> list[Problem]:
    """Every derived name or label value of ``ms`` that Kubernetes would reject, one Problem each."""
    if _plainly_valid(ms):
        return []
    return all_problems(ms)


def _plainly_valid(ms: ModelService) -> bool:
    """True when no derived name can break a rule, which settles the usual object in a few tests.

    A name that is a DNS-1123 label is a valid label value and, suffixed with `-decode` or
    `-prefill`, a subdomain of at most 71 characters (the Deployments; the InferencePool takes the
    name itself). An EPP name that is a DNS-1035 label is a valid label value, and its suffixed names
    are subdomains of at most 63 + 30 characters; prefixed with a namespace that is a DNS-1123
    label, a subdomain of at most 127. Anything else is left to `all_problems`, which a property
    test holds this to.
    """
    meta = ms.metadata
    recorded = names.recorded_base_name(ms)
    return (
        formats.is_dns1123_label(meta.name)
        and formats.is_dns1123_label(meta.namespace)
        and (recorded is None or formats.is_dns1035_label(recorded))
        and formats.is_dns1035_label(names.epp_name(ms))
    )


def all_problems(ms: ModelService) -> list[Problem]:
    """`check_names` without its shortcut: every derived name checked one by one."""
    name_path = "metadata.name"
    problems: list[Problem] = []
    recorded = names.recorded_base_name(ms)
    if recorded is not None and not formats.is_dns1035_label(recorded):
        problems.append(
            Problem(
                f"metadata.annotations[{names.DNS1035_NAME_ANNOTATION}]",
                f"{recorded!r} is not a DNS-1035 label; it must be the sanitized name recorded at creation",
            )
        )
    problems += _label(name_path, "app.kubernetes.io/name and llm-d.ai/model", ms.metadata.name)
    problems += _subdomain(name_path, "decode Deployment", names.decode_name(ms))
    if ms.spec.prefill is not None:
        problems += _subdomain(name_path, "prefill Deployment", names.prefill_name(ms))
    problems += _subdomain(name_path, "InferencePool", names.inference_pool_name(ms))
    problems += _epp_family(name_path, ms)
    # Deduplicate: one too-long name usually breaks several objects with the same message prefix.
    return sorted(dict.fromkeys(problems))


def _epp_family(path: str, ms: ModelService) -> Iterator[Problem]:
    """The EPP names, derived from one EPP name: each `names.epp_*` call would sanitize again."""
    epp = names.epp_name(ms)
    yield from _dns1035(path, "EPP Service", epp)
    yield from _label(path, "EPP app.kubernetes.io/name and inferencepool", epp)
    # The suffixes are those of names.epp_configmap_name, epp_secret_name and epp_cluster_rbac_name;
    # the validation tests compare both spellings.
    yield from _subdomain(path, "EPP ConfigMap", f"{epp}-config")
    yield from _subdomain(path, "EPP metrics token Secret", f"{epp}-sa-metrics-reader-secret")
    yield from _subdomain(path, "EPP ClusterRole", f"{ms.metadata.namespace}-{epp}")
