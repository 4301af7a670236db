"""The ``model-unpack`` init container and the serving pod volumes it fills.

The model is an OCI ModelPack; KitOps ``kit unpack`` pulls it into the ``model`` emptyDir before
vLLM starts, and vLLM mounts that volume read-only. The first image pull secret doubles as kit's
docker config so private registries work for the model too.
"""

from __future__ import annotations

from shared.api import ModelService
from shared.builders import serving
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

KITOPS_HOME = "/tmp/model-oci"
DOCKER_CONFIG_DIR = "/.docker"

_SCRIPT_HEAD = (
    'set -euo pipefail\nexport KITOPS_HOME="${KITOPS_HOME:-/tmp/model-oci}"\nmkdir -p "$KITOPS_HOME"\n'
)


def unpack_script(plain_http: bool) -> str:
    """The shell script the init container runs.

    ``--plain-http`` (registry without TLS) is opt-in: the reference always passed it, which sends
    registry credentials in clear text to any registry. With it on, the script is the reference's,
    byte for byte.
    """
    flag = " --plain-http" if plain_http else ""
    return _SCRIPT_HEAD + f'kit unpack "$OCI_MODEL_IMAGE"{flag} -o -d "$MODEL_MOUNT_PATH"\n'


def _has_pull_secrets(ms: ModelService) -> bool:
    return bool(ms.spec.model.image_pull_secrets)


def build_model_unpack_container(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The init container; None when no kit image is configured or the model has no image."""
    if not settings.kit_image or not ms.spec.model.image:
        return None
    path = serving.mount_path(ms)
    env = [
        serving.env_value("OCI_MODEL_IMAGE", ms.spec.model.image),
        serving.env_value("MODEL_MOUNT_PATH", path),
        serving.env_value("KITOPS_HOME", KITOPS_HOME),
    ]
    mounts: list[Manifest] = [
        {"name": "model-tmp", "mountPath": KITOPS_HOME},
        {"name": "model", "mountPath": path},
    ]
    if _has_pull_secrets(ms):
        env.append(serving.env_value("DOCKER_CONFIG", DOCKER_CONFIG_DIR))
        mounts.append({"name": "docker-config", "mountPath": DOCKER_CONFIG_DIR, "readOnly": True})
    return {
        "name": "model-unpack",
        "image": settings.kit_image,
        "command": ["/bin/sh", "-c"],
        "args": [unpack_script(settings.kit_plain_http)],
        "env": env,
        "volumeMounts": mounts,
        "securityContext": serving.container_security_context(),
    }


def build_serving_volumes(ms: ModelService) -> list[Manifest]:
    """``model`` and ``model-tmp`` always (even without the init container), plus the docker config."""
    volumes: list[Manifest] = [{"name": "model", "emptyDir": {}}, {"name": "model-tmp", "emptyDir": {}}]
    secrets = ms.spec.model.image_pull_secrets
    if secrets:
        volumes.append(
            {
                "name": "docker-config",
                "secret": {
                    "secretName": secrets[0].name,
                    "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                },
            }
        )
    return volumes
