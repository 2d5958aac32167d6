import socket
import urllib.request

import pytest

from iadbench.core.offline import DownloadForbiddenError, network_forbidden


def test_remote_connections_are_refused_and_restored():
    original = socket.socket.connect
    with network_forbidden("weights: random"), pytest.raises(DownloadForbiddenError, match="weights: random"):
        urllib.request.urlopen("http://download.pytorch.org/models/resnet18.pth", timeout=5)
    assert socket.socket.connect is original


def test_loopback_stays_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with network_forbidden("test"), socket.create_connection(server.getsockname(), timeout=5):
            pass
