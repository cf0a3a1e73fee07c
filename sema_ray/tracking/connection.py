"""Tell a tracking server that cannot be reached from one that returned an error."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import requests

PROBE_TIMEOUT_S = 5.0


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def unreachable_reason(uri: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Return why the server at `uri` cannot be reached, or None when it responds.

    Any HTTP response counts as reachable, an error status or a login page included: only
    a refused connection, an unknown host or a timeout make a server unreachable. One
    request, no retries, so a dead server costs at most `timeout` seconds.
    """
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as error:
        return f"{type(error.reason).__name__}: {error.reason}"
    except (TimeoutError, OSError) as error:
        return f"{type(error).__name__}: {error}"


def is_connection_error(error: BaseException) -> bool:
    """Return True when `error` (or an exception it was raised from) is a failed connection.

    MLflow's REST client wraps transport failures in `MlflowException`; the original
    `requests` exception stays in the chain. Errors the server itself returned (a
    `RestException`, e.g. an invalid parameter) are not connection errors.
    """
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                                requests.exceptions.RetryError, ConnectionError, socket.timeout)):
            return True
        current = current.__cause__ or current.__context__
    return False
