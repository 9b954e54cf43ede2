"""A loopback client for the studio's HTTP API (stdlib only), and a server it can start:
`composer serve` and `composer worker` as the subprocesses a user runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Client:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 60) -> Response:
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def delete(self, path: str) -> Response:
        return self.request("DELETE", path)

    def post_json(self, path: str, payload: dict) -> Response:
        return self.request("POST", path, body=json.dumps(payload).encode(),
                            headers={"Content-Type": "application/json"})

    def upload(self, name: str, data: bytes) -> Response:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", "/upload", body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})

    def wait(self, job_id: str, timeout: float = 180, until=("done", "failed", "cancelled")
             ) -> dict:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            job = self.get(f"/jobs/{job_id}").json()
            seen.append((job["status"], job["progress"]))
            if job["status"] in until:
                job["seen"] = seen
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} still {seen[-1]} after {timeout} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], data: Path, env: dict | None = None) -> subprocess.Popen:
    """`composer ARGS --data DATA`, its output in a log file beside the data (a pipe nobody
    reads would fill and stop it): process.log names the file."""
    data.mkdir(parents=True, exist_ok=True)
    log = data / f"{args[0]}-{uuid.uuid4().hex[:8]}.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "composer", *args, "--data", str(data)],
                                   cwd=ROOT, env={**os.environ, **(env or {})},
                                   stdout=out, stderr=subprocess.STDOUT, text=True)
    process.log = log
    return process


def wait_for_line(process: subprocess.Popen, words: str, timeout: float = 60) -> str:
    """Wait until a line of a started process' log holds `words` (a worker says "ready")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in process.log.read_text().splitlines():
            if words in line:
                return line
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no line with {words!r} in {timeout} s: "
                         f"{process.log.read_text()[-2000:]}")


def serve(data: Path, *, worker: bool = True, env: dict | None = None,
          extra: list[str] | None = None) -> tuple[subprocess.Popen, Client]:
    """`composer serve` on a free loopback port, once it answers (`extra`: more options)."""
    port = free_port()
    process = start(["serve", "--port", str(port)] + ([] if worker else ["--no-worker"])
                    + (extra or []), data, env)
    client = Client(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"composer serve exited: {process.log.read_text()}")
        try:
            if client.get("/openapi.json", timeout=2).status == 200:
                return process, client
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("composer serve did not answer in 60 s")


def stop(process: subprocess.Popen) -> str:
    """Terminate it (as Ctrl-C or a service manager would) and return its log."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return process.log.read_text()
