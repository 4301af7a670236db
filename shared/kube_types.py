"""The Kubernetes core types a ModelService embeds, as pydantic models.

Only what the ModelService API carries: resource requirements (with real quantity parsing), env vars
including ``valueFrom``, tolerations and local object references. Field names, defaults and
constraints follow the core/v1 OpenAPI schema so the generated CRD reads like controller-gen output.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel

# ---------------------------------------------------------------------------------------------
# Base model and scalar types
# ---------------------------------------------------------------------------------------------


class WireModel(BaseModel):
    """Base for every API model: frozen, camelCase on the wire, unknown fields ignored on read.

    Ignoring unknown fields keeps an older reconciler working when the CRD gains a field; the
    webhook's validation reports them separately, so users still learn about typos.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )


# Kubernetes rejects "8000" for an integer field and 1 for a string field; Strict keeps that.
Int32 = Annotated[int, Strict(), Field(ge=-(2**31), le=2**31 - 1, json_schema_extra={"format": "int32"})]
Int64 = Annotated[int, Strict(), Field(json_schema_extra={"format": "int64"})]
Bool = Annotated[bool, Strict()]
Port = Annotated[int, Strict(), Field(ge=1, le=65535, json_schema_extra={"format": "int32"})]

# resource.Quantity grammar (k8s.io/apimachinery/pkg/api/resource): signed decimal number, then a
# binary SI suffix, a decimal SI suffix, or a decimal exponent.
_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_MAX_EXPONENT = 2**31 - 1
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


# Holds every int32 exponent: a schema-valid quantity such as 1e1000000 lies beyond the default
# context's range. A module-level context avoids building one per call (`localcontext` costs more
# than the arithmetic); precision stays the default 28 digits, as before.
_CONTEXT = Context(Emax=MAX_EMAX, Emin=MIN_EMIN)


def check_quantity(text: str) -> re.Match[str]:
    """Check that `text` is a quantity the API server accepts, without computing its value.

    Raises ValueError with a Kubernetes-like message otherwise. Validation needs only this, and
    the Decimal arithmetic of `parse_quantity` costs several times more.
    """
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise ValueError(f"quantities must match the regular expression '{_QUANTITY_RE.pattern}'")
    suffix = match["suffix"]
    # The API server reads a decimal exponent as a 32-bit integer; a longer one is refused before
    # any arithmetic (and never turned into a Python int of unbounded size).
    if suffix is not None and suffix not in _BINARY and suffix not in _DECIMAL:  # an exponent
        digits = suffix[1:].lstrip("+-").lstrip("0")
        if len(digits) > 10 or (digits and int(digits) > _MAX_EXPONENT):
            raise ValueError(f"the exponent of {text[:40]!r} is out of range (at most {_MAX_EXPONENT})")
    return match


def parse_quantity(text: str) -> Decimal:
    """Parse a Kubernetes quantity (``500m``, ``8Gi``, ``1e3``, ``4``) into its exact decimal value.

    Raises ValueError with a Kubernetes-like message for anything the API server would reject.
    """
    match = check_quantity(text)
    suffix = match["suffix"] or ""
    number = Decimal(match["num"])  # exact whatever the context: the regex admits decimals only
    if suffix in _BINARY:
        return _CONTEXT.multiply(number, _BINARY[suffix])
    if suffix in _DECIMAL:
        return _CONTEXT.multiply(number, _DECIMAL[suffix])
    return _CONTEXT.scaleb(number, int(suffix[1:]))


_DECIMAL_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def port_number(text: str | None) -> int | None:
    """The TCP port a decimal string names (1-65535), or None when it names none.

    More than five significant digits cannot name a port, so such text is never converted:
    Python refuses `int()` of over 4,300 digits, and a long conversion costs quadratic time.
    """
    if text is None or not _DECIMAL_INTEGER.match(text) or text.startswith("-"):
        return None
    significant = text.lstrip("+").lstrip("0")
    if not significant or len(significant) > 5:
        return None
    port = int(significant)
    return port if port <= 65535 else None


def _coerce_quantity(value: Any) -> Any:
    """Accept YAML numbers (``cpu: 4``) as the API server does for int-or-string, keep text as written."""
    if isinstance(value, bool):
        raise ValueError("a quantity must be a string or a number, not a boolean")
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str):
        check_quantity(value)
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_coerce_quantity),
    Field(
        json_schema_extra={
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": _QUANTITY_RE.pattern,
            "x-kubernetes-int-or-string": True,
        }
    ),
]

# ---------------------------------------------------------------------------------------------
# Object references, resources, env, tolerations
# ---------------------------------------------------------------------------------------------


class LocalObjectReference(WireModel):
    """A reference to an object in the same namespace, by name."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    name: str = ""
    """Name of the referent."""


class ResourceClaim(WireModel):
    """A reference to one entry in the pod's resourceClaims."""

    name: str
    """Name of a resourceClaims entry in the pod spec."""
    request: str | None = None
    """Name of a request in the referenced claim; empty means the whole claim."""


class ResourceRequirements(WireModel):
    """Compute resources: requests, limits and dynamic resource claims."""

    claims: tuple[ResourceClaim, ...] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Dynamically allocated resources used by this container."""
    limits: dict[str, Quantity] | None = None
    """Maximum amount of compute resources allowed."""
    requests: dict[str, Quantity] | None = None
    """Minimum amount of compute resources required."""


class ConfigMapKeySelector(WireModel):
    """Selects a key of a ConfigMap."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    key: str
    """The key to select."""
    name: str = ""
    """Name of the ConfigMap."""
    optional: Bool | None = None
    """Whether the ConfigMap or its key must be defined."""


class SecretKeySelector(WireModel):
    """Selects a key of a Secret."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    key: str
    """The key of the secret to select from."""
    name: str = ""
    """Name of the Secret."""
    optional: Bool | None = None
    """Whether the Secret or its key must be defined."""


class ObjectFieldSelector(WireModel):
    """Selects a field of the pod."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    api_version: str | None = None
    """Version of the schema the FieldPath is written in terms of, defaults to "v1"."""
    field_path: str
    """Path of the field to select in the specified API version."""


class FileKeySelector(WireModel):
    """Selects a key of an env file in a volume."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    key: str
    """The key within the env file."""
    optional: Bool = False
    """Whether the file or its key must exist."""
    path: str
    """Relative path of the env file within the volume."""
    volume_name: str
    """Name of the volume mount containing the env file."""


class ResourceFieldSelector(WireModel):
    """Selects a resource of a container: only limits and requests are supported."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    container_name: str | None = None
    """Container name: required for volumes, optional for env vars."""
    divisor: Quantity | None = None
    """Output format of the exposed resources, defaults to "1"."""
    resource: str
    """Required: resource to select."""


class EnvVarSource(WireModel):
    """Source for an environment variable's value."""

    config_map_key_ref: ConfigMapKeySelector | None = None
    """Selects a key of a ConfigMap."""
    field_ref: ObjectFieldSelector | None = None
    """Selects a field of the pod."""
    file_key_ref: FileKeySelector | None = None
    """Selects a key of an env file."""
    resource_field_ref: ResourceFieldSelector | None = None
    """Selects a resource of the container."""
    secret_key_ref: SecretKeySelector | None = None
    """Selects a key of a Secret in the pod's namespace."""


class EnvVar(WireModel):
    """An environment variable present in a container."""

    name: str
    """Name of the environment variable."""
    value: str | None = None
    """Variable value; $(VAR_NAME) references are expanded by the kubelet."""
    value_from: EnvVarSource | None = None
    """Source for the variable's value; cannot be used if value is not empty."""


TolerationOperator = Literal["Exists", "Equal"]
TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Toleration(WireModel):
    """Lets a pod schedule onto nodes with a matching taint."""

    effect: TaintEffect | None = None
    """Taint effect to match; empty matches all effects."""
    key: str | None = None
    """Taint key; empty with operator Exists matches all taints."""
    operator: TolerationOperator | None = None
    """Relationship between key and value; defaults to Equal."""
    toleration_seconds: Int64 | None = None
    """How long a NoExecute toleration tolerates the taint; unset means forever."""
    value: str | None = None
    """Taint value to match; must be empty when the operator is Exists."""


PullPolicy = Literal["Always", "IfNotPresent", "Never"]
