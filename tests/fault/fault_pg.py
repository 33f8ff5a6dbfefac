"""A private PostgreSQL cluster for one fault test: initdb into a temporary folder, a free
port, and start, stop and kill at will, without ever touching the shared server.

initdb and pg_ctl refuse to run as root, so they run as the `postgres` user (`runuser`), in a
folder that user owns (SETUP-NOTES.md, Databases)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from support import free_port

PG_BIN = Path(os.environ.get("KEFU_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def _as_postgres(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [*args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", PG_USER, "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)


def available() -> bool:
    return (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser"))


def _private_folder() -> Path:
    root = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER, PG_USER)
    return root


class Template:
    """One initdb per test session (about 7 s); each cluster starts from a copy of it."""

    def __init__(self) -> None:
        self.root = _private_folder()
        self.data = self.root / "data"
        _as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class PrivatePostgres:
    """A cluster of its own on a free port: `url()` is the superuser's (trust)."""

    def __init__(self, template: Template) -> None:
        self.root = _private_folder()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        _as_postgres("cp", "-a", str(template.data), str(self.data))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends the sessions (AdminShutdownError for the clients), `immediate` too,
        without a checkpoint, like a crash."""
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        status = subprocess.run(
            ["runuser", "-u", PG_USER, "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]
            if os.geteuid() == 0
            else [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def kill(self) -> None:
        """SIGKILL the postmaster; its backends notice and end."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def close(self) -> None:
        """Stop (whatever state it is in) and delete the cluster."""
        try:
            if self.is_running():
                self.stop("immediate")
        except subprocess.SubprocessError:
            self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
