"""--serve --netns TARGET (issues 15 and 19): the exporter runs in the host's namespace (its HTTP
socket is there) and exports the sockets of the namespace TARGET names, with
``pynetstat_netns_info{netns, inode}`` saying which. Live: a namespace made by the test
(tests/test_serve.py's Scene) with a holder process; the exporter's own listening socket, in the
host's namespace, must not be among the listeners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

from conftest import LAUNCHER
from test_serve import NO_PROXY, Scene, pytestmark, samples, series  # noqa: F401  (pytestmark)

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_one_namespace_from_the_host():
    scene = Scene()
    server = None
    try:
        scene.holder(b"pnst-ns-holder", port=4301, conns=2)
        port = free_port()
        server = subprocess.Popen([sys.executable, LAUNCHER, "--serve", f"127.0.0.1:{port}",
                                   "--netns", scene.name], stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": SRC,
                                       "PYNETSTAT_SCRAPE_WAIT": "120"})
        assert server.stderr.readline() == (
            f"pynetstat: serving metrics on http://127.0.0.1:{port}/metrics\n")
        with NO_PROXY.open(urllib.request.Request(f"http://127.0.0.1:{port}/metrics"),
                           timeout=120) as reply:
            found = samples(reply.read().decode())
        inode = os.stat(scene.path).st_ino
        assert series(found, "pynetstat_netns_info") == {
            frozenset({("netns", scene.name), ("inode", str(inode))}): 1}
        listeners = {(dict(k)["address"], dict(k)["port"], dict(k)["process"])
                     for k in series(found, "pynetstat_listeners")}
        assert ("127.0.0.1", "4301", "pnst-ns-holder") in listeners
        assert all(p != str(port) for _a, p, _n in listeners), listeners  # the host's own
        held = series(found, "pynetstat_process_sockets", process="pnst-ns-holder",
                      state="ESTABLISHED")
        assert sum(held.values()) == 4  # 2 connections to itself: both ends
    finally:
        if server is not None:
            server.terminate()
            server.communicate(timeout=30)
        scene.close()

