"""Names of containers and pods, read from the files container runtimes keep on disk.

The cgroup path of a process gives a container's ID and runtime (``linux/process.py``
``parse_cgroup``); this module turns that ID into the name a user typed (``docker run --name``,
a Kubernetes pod). Each parser is pure: it takes the bytes of one file and returns what it
names. ``RuntimeFiles`` knows where each runtime keeps that file, below a root that is ``/`` on
a live host and a recorded tree in tests. A runtime whose files are absent (not installed, or
rootless, keeping them under the user's home) names nothing: the caller shows the short ID.

Where each file is, by runtime:

* Docker: ``/var/lib/docker/containers/<id>/config.v2.json`` (``Name`` is ``"/web"``).
* Podman: ``/var/lib/containers/storage/overlay-containers/containers.json``, the storage
  library's list of containers (``names``).
* CRI-O: ``<storage>/overlay-containers/<id>/userdata/config.json``, the OCI bundle config, in
  the graph root (``/var/lib/containers/storage``) or the run root (``/run/containers/storage``);
  its annotations name the pod (``io.kubernetes.pod.name``, ``io.kubernetes.pod.namespace``) and
  the container (``io.kubernetes.container.name``).
* containerd: ``/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/config.json``, the
  bundle its shim runs; the CRI plugin's annotations are ``io.kubernetes.cri.sandbox-name``,
  ``io.kubernetes.cri.sandbox-namespace`` and ``io.kubernetes.cri.container-name``.
* LXC: the cgroup component ``lxc.payload.NAME`` is the name itself.
"""

from __future__ import annotations

import json
import os

from pynetstat.errors import ParseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pynetstat.model.process import Container

DOCKER_CONTAINERS = "var/lib/docker/containers"
STORAGE_ROOTS = ("var/lib/containers/storage", "run/containers/storage")
CONTAINERD_TASKS = "run/containerd/io.containerd.runtime.v2.task"


class Names:
    """What the runtime's files say of one container: its name and, in Kubernetes, its pod
    (``"namespace/name"``). Either may be ``None``."""

    __slots__ = ("name", "pod")

    def __init__(self, name: str | None = None, pod: str | None = None):
        self.name = name
        self.pod = pod

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Names):
            return NotImplemented
        return (self.name, self.pod) == (other.name, other.pod)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Names({self.name!r}, pod={self.pod!r})"


def _load(data: bytes, path: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise ParseError(path, getattr(err, "lineno", 0), data[:80], "not JSON") from None


def parse_docker_config(data: bytes, path: str = "config.v2.json") -> Names:
    """Docker's per-container state file -> the container's name, without the leading ``/``.

    >>> parse_docker_config(b'{"ID": "3f4e", "Name": "/web", "State": {"Pid": 4242}}')
    Names('web', pod=None)
    """
    doc = _load(data, path)
    name = doc.get("Name") if isinstance(doc, dict) else None
    if not isinstance(name, str):
        raise ParseError(path, 0, data[:80], "no Name")
    return Names(name.lstrip("/") or None)


def parse_podman_containers(data: bytes, path: str = "containers.json") -> dict[str, str]:
    """containers/storage's list of containers -> ``{id: first name}``.

    >>> parse_podman_containers(b'[{"id": "a40c", "names": ["web"], "image": "cbaf"}]')
    {'a40c': 'web'}
    """
    doc = _load(data, path)
    if not isinstance(doc, list):
        raise ParseError(path, 0, data[:80], "not a list of containers")
    out = {}
    for entry in doc:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            names = entry.get("names")
            if isinstance(names, list) and names and isinstance(names[0], str):
                out[entry["id"]] = names[0]
    return out


# Annotation keys the Kubernetes runtimes write into the OCI bundle config of every container.
_CRIO_KEYS = ("io.kubernetes.container.name", "io.kubernetes.pod.namespace",
              "io.kubernetes.pod.name")
_CONTAINERD_KEYS = ("io.kubernetes.cri.container-name", "io.kubernetes.cri.sandbox-namespace",
                    "io.kubernetes.cri.sandbox-name")


def parse_oci_config(data: bytes, path: str = "config.json") -> Names:
    """An OCI bundle config (CRI-O's or containerd's) -> the container's and pod's names.

    >>> parse_oci_config(b'{"annotations": {"io.kubernetes.pod.name": "web-7d9f",'
    ...                  b' "io.kubernetes.pod.namespace": "default",'
    ...                  b' "io.kubernetes.container.name": "nginx"}}')
    Names('nginx', pod='default/web-7d9f')

    A pod's sandbox (pause) container has a pod but no container name. A config without these
    annotations (a plain Podman or containerd container) names nothing: ``Names(None)``.
    """
    doc = _load(data, path)
    notes = doc.get("annotations") if isinstance(doc, dict) else None
    if not isinstance(notes, dict):
        return Names()
    for name_key, ns_key, pod_key in (_CRIO_KEYS, _CONTAINERD_KEYS):
        pod = notes.get(pod_key)
        if isinstance(pod, str):
            space = notes.get(ns_key)
            name = notes.get(name_key)
            return Names(name if isinstance(name, str) and name else None,
                         f"{space}/{pod}" if isinstance(space, str) and space else pod)
    return Names()


class RuntimeFiles:
    """Looks container IDs up in the runtimes' files below ``root``; each file is read once."""

    def __init__(self, root: str = "/"):
        self.root = root
        self._podman: dict[str, str] | None = None
        self.errors: list[str] = []  # files that exist but could not be parsed or read

    def _read(self, rel: str) -> bytes | None:
        try:
            with open(os.path.join(self.root, rel), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            self.errors.append(f"{rel}: {err.strerror or err}")
            return None

    def _parse(self, rel: str, parser: Callable[[bytes, str], Names | dict[str, str]]
               ) -> Names | dict[str, str] | None:
        data = self._read(rel)
        if data is None:
            return None
        try:
            return parser(data, os.path.join(self.root, rel))
        except ParseError as err:
            self.errors.append(str(err))
            return None

    def _podman_names(self) -> dict[str, str]:
        if self._podman is None:
            found = self._parse(f"{STORAGE_ROOTS[0]}/overlay-containers/containers.json",
                                parse_podman_containers)
            self._podman = found if isinstance(found, dict) else {}
        return self._podman

    def _oci(self, ident: str) -> Names | None:
        for base in STORAGE_ROOTS:  # CRI-O (and Podman, whose configs carry no pod)
            found = self._parse(f"{base}/overlay-containers/{ident}/userdata/config.json",
                                parse_oci_config)
            if isinstance(found, Names) and (found.name or found.pod):
                return found
        try:
            spaces = os.listdir(os.path.join(self.root, CONTAINERD_TASKS))
        except OSError:
            return None
        for space in sorted(spaces):  # "k8s.io", "moby", "default": a handful
            found = self._parse(f"{CONTAINERD_TASKS}/{space}/{ident}/config.json", parse_oci_config)
            if isinstance(found, Names):
                return found
        return None

    def names(self, container: Container) -> Names:
        """The names of ``container`` (a ``model.process.Container``), ``Names()`` if unknown."""
        ident, runtime = container.id, container.runtime
        if not ident:
            return Names()
        if runtime == "lxc":
            return Names(ident)
        if runtime == "docker":
            found = self._parse(f"{DOCKER_CONTAINERS}/{ident}/config.v2.json", parse_docker_config)
            return found if isinstance(found, Names) else Names()
        if runtime == "podman":
            name = self._podman_names().get(ident)
            if name is not None:
                return Names(name)
        found = self._oci(ident)
        return found if found is not None else Names()
