"""``--ray-address`` checked before any work: its form, and a Ray cluster answering there, within seconds.

``ray.init`` retries an address where nothing listens for minutes, and fails on a server that is not Ray
only after tens of seconds with a hint about authentication. A plain TCP connection tells the first at
once; the second by the answer to an HTTP/2 connection preface: Ray's GCS (and its client server) is a gRPC
server, and every HTTP/2 server answers with a SETTINGS frame. Nothing of Ray is imported.
"""

from __future__ import annotations

import socket

from ..errors import AnimSplatError, BadOption

__all__ = ["CONNECT_SECONDS", "ClusterUnreachable", "check_ray_address", "ray_endpoint"]

CONNECT_SECONDS = 5.0
"""How long the connection to ``--ray-address``, and its answer, are waited for."""

_ADDRESS_FORM = "HOST:PORT as `ray start --head` prints it (192.168.1.10:6379, [::1]:6379) or ray://HOST:PORT"
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # and an empty SETTINGS
_SETTINGS = 4
"""The type of an HTTP/2 SETTINGS frame: the fourth byte of its 9-byte header."""


class ClusterUnreachable(AnimSplatError, ValueError):
    """No Ray cluster answers at ``--ray-address``; the message says what answered, if anything."""


def ray_endpoint(address: str) -> tuple[str, int]:
    """The host and port of a Ray address (``HOST:PORT``, ``[IPv6]:PORT`` or ``ray://HOST:PORT``).

    Raises :class:`~vsanimsplat.errors.BadOption` naming ``--ray-address`` and the forms it takes.
    """
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not (colon and host and port.isdigit() and 0 < int(port) < 65536) or any(c in host for c in " /[]@"):
        raise BadOption("run", "ray_address", f"--ray-address must be {_ADDRESS_FORM}, got {address!r}")
    return host, int(port)


def check_ray_address(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Raise unless a Ray cluster (a gRPC server) answers at ``address`` within ``timeout`` seconds.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `address` | str | | ``--ray-address`` (:func:`ray_endpoint`) |
    | `timeout` | float | :data:`CONNECT_SECONDS` | seconds for the connection and for the answer |

    Raises :class:`~vsanimsplat.errors.BadOption` for an address of another form, and :class:`ClusterUnreachable`
    naming the option when the host is unknown, nothing listens, nothing answers in time, or what answers is not a gRPC server.
    """
    host, port = ray_endpoint(address)
    where = f"--ray-address {address}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(_HTTP2_PREFACE)
            header = b""
            while len(header) < 9 and (received := connection.recv(9 - len(header))):
                header += received
    except socket.gaierror as error:
        raise ClusterUnreachable(f"{where}: unknown host {host!r} ({error.strerror})") from None
    except TimeoutError:
        raise ClusterUnreachable(f"{where}: no answer from {host}:{port} within {timeout:g} s; is the cluster's "
                                 "head (`ray start --head`) running there, and the port open?") from None
    except OSError as error:
        raise ClusterUnreachable(f"{where}: cannot connect to {host}:{port} ({error.strerror or error}); is the "
                                 "cluster's head (`ray start --head`) running there?") from None
    if len(header) < 9 or header[3] != _SETTINGS:
        raise ClusterUnreachable(f"{where}: {host}:{port} answers, but not as a Ray cluster does (no gRPC server); "
                                 "give the address `ray start --head` printed")
