"""Real `kefu serve` processes for multi-process and crash tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support import free_port

SECRET = "multi-process-secret-0123456789abcdef"
# A loaded machine (the browser suite alongside) can take a while to import and warm up.
START_WITHIN_S = 60.0


@dataclass
class ServeProcess:
    database_url: str
    redis_url: str | None = None
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    # None: no KEFU_SECRET_KEY, so the process keeps its own in the data folder.
    secret_key: str | None = SECRET
    data_dir: Path | None = None
    # More environment for this process (KEFU_* settings, LD_PRELOAD and FAKETIME for a skewed
    # clock); it wins over the test's environment.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if k != "KEFU_SECRET_KEY"},
            "KEFU_DATABASE_URL": self.database_url,
            "KEFU_PORT": str(self.port),
            "KEFU_HOST": "127.0.0.1",
            "KEFU_SCHEDULER_INTERVAL_S": "0.5",
            **self.env,
        }
        if self.secret_key is not None:
            env["KEFU_SECRET_KEY"] = self.secret_key
        if self.data_dir is not None:
            env["KEFU_DATA_DIR"] = str(self.data_dir)
        if self.redis_url:
            env["KEFU_REDIS_URL"] = self.redis_url
        env.update(self.env)
        if self.log_path is None:
            self.log_path = Path(os.devnull)
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kefu", "serve"], env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_WITHIN_S
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"kefu serve exited with {self.proc.returncode}")
                try:
                    if (await client.get(self.base_url + "/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("kefu serve did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, like a power cut for the process."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self) -> None:
        """SIGTERM, and wait for the graceful shutdown to end."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
