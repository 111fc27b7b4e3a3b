"""`make bench` (previews): the preview data path against connecting directly and real proxies.

One run, wrk -t2 -c32 (as issue 15 measured) against a tiny keep-alive HTTP backend (nginx,
one worker, answering "ok") that runs as the service of a real colony spawned through a real
Mycelium:
  (a) direct: to the colony's address (root may connect to it; nobody else may);
  (b) Colony's preview proxy: ``web.<colony>.localhost:<proxy-port>``;
  (c) HAProxy, (d) nginx and (e) Caddy, each reverse-proxying 127.0.0.1:<port> to the
      colony's address with upstream keep-alive, run as the bench starts them.
Each is run ``--rounds`` times (3), round robin, and the median is shown (the machine's load
moves under a bench). It prints req/s, p50 and p99 of each, and each one's req/s as a ratio
of (a)'s, and the p50 each adds to (a)'s. Goal (issue 15): (b) >= 0.37x direct and at least
HAProxy's ratio, added p50 <= 0.5 ms. wrk, haproxy, nginx and caddy are installed from Debian
when absent. Everything the bench starts is stopped, and the colony and the daemon's state
removed, also on failure.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchlib import (
    lacks_root,
    make_repo,
    make_work,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    wait_state,
)

PREFIX = "cbprev"
POOL = "10.213.242.0/24"
PORT = 8080
PACKAGES = {"wrk": "wrk", "haproxy": "haproxy", "nginx": "nginx-light", "caddy": "caddy"}
BACKEND_CONF = f"""worker_processes 1;
pid /tmp/bench-nginx/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path /tmp/bench-nginx; proxy_temp_path /tmp/bench-nginx;
  fastcgi_temp_path /tmp/bench-nginx; uwsgi_temp_path /tmp/bench-nginx;
  scgi_temp_path /tmp/bench-nginx;
  keepalive_requests 1000000;
  server {{ listen {PORT}; location / {{ return 200 "ok\\n"; }} }}
}}
"""
NGINX = "nginx -e stderr -p /tmp/bench-nginx -c $PWD/backend.conf -g 'daemon off;'"
COLONY_TOML = f"""[services.web]
command = "mkdir -p /tmp/bench-nginx && exec {NGINX}"
port = {PORT}
"""


def ensure_tools() -> dict[str, str]:
    """Each tool's path; what is missing is installed from Debian (tools that still cannot be
    had are left out, wrk excepted)."""
    missing = [pkg for tool, pkg in PACKAGES.items() if shutil.which(tool) is None]
    if missing:
        print(f"installing Debian packages: {' '.join(missing)}", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            check=False,
            stdout=subprocess.DEVNULL,
        )
    found = {tool: shutil.which(tool) for tool in PACKAGES}
    if found["wrk"] is None:
        raise SystemExit("bench_preview: wrk is missing and could not be installed")
    return {tool: path for tool, path in found.items() if path is not None}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, host: str | None = None) -> dict[str, float]:
    """req/s, p50 and p99 (ms) of ``wrk -t2 -c32`` against ``url``, after a 1 s warm-up."""
    extra = ["-H", f"Host: {host}"] if host else []
    subprocess.run(["wrk", "-t2", "-c32", "-d1s", *extra, url], check=True, capture_output=True)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", *extra, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {}
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        lat[q] = float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        why = probe(url, host)
        raise SystemExit(f"bench_preview: {errors.group(1)} error responses from {url}: {why}")
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"]}


def probe(url: str, host: str | None) -> str:
    """The first lines of one response from ``url``, to say why wrk saw errors."""
    argv = ["curl", "-si", "--max-time", "5", url] + (["-H", f"Host: {host}"] if host else [])
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return " | ".join(out.splitlines()[:1] + out.splitlines()[-3:])


@contextmanager
def running(argv: list[str], port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def haproxy(work: Path, port: int, target: str) -> list[str]:
    conf = work / "haproxy.cfg"
    conf.write_text(
        "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n"
        "  timeout client 30s\n  timeout server 30s\n  http-reuse always\n"
        f"frontend f\n  bind 127.0.0.1:{port}\n  default_backend b\n"
        f"backend b\n  server s {target}\n"
    )
    return ["haproxy", "-db", "-f", str(conf)]


def nginx(work: Path, port: int, target: str) -> list[str]:
    root = work / "nginx"
    root.mkdir()
    (root / "nginx.conf").write_text(
        # user root: only root may connect to a colony's address from the host
        f"user root;\nworker_processes auto;\npid {root}/nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; client_body_temp_path {root}; proxy_temp_path {root};\n"
        f"  fastcgi_temp_path {root}; uwsgi_temp_path {root}; scgi_temp_path {root};\n"
        f"  upstream up {{ server {target}; keepalive 64; }}\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://up;\n"
        '    proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n'
    )
    return ["nginx", "-e", "stderr", "-p", str(root), "-c", str(root / "nginx.conf"),
            "-g", "daemon off;"]  # fmt: skip


def caddy(work: Path, port: int, target: str) -> list[str]:
    conf = work / "Caddyfile"
    conf.write_text(
        f"{{\n  admin off\n  auto_https off\n  storage file_system {work}/caddy\n}}\n"
        f"http://127.0.0.1:{port} {{\n  reverse_proxy {target}\n}}\n"
    )
    return ["caddy", "run", "--adapter", "caddyfile", "--config", str(conf)]


def measure(
    seconds: int, rounds: int, tools: dict[str, str], work: Path
) -> dict[str, dict[str, float]]:
    """Spawn the colony and run wrk against each path."""
    repo = make_repo(work, {"colony.toml": COLONY_TOML, "backend.conf": BACKEND_CONF})
    daemon, client = start_daemon(work, PREFIX, POOL, env={"COLONY_PREVIEW_AUTH": "local"})
    figures: dict[str, dict[str, float]] = {}
    name = "bprev"
    try:
        with client.events(name) as events:
            client.spawn(name, str(repo))
            wait_state(events, name, "running")
        try:
            address = client.colony(name).address
            target = f"{address}:{PORT}"
            wait_port(PORT, address)
            url = client.urls(name).urls["web"]
            proxy_port = int(re.search(r":(\d+)/", url).group(1))  # type: ignore[union-attr]
            host = f"web.{name}.localhost:{proxy_port}"
            targets = {
                "direct": (f"http://{target}/", None),
                "colony": (f"http://127.0.0.1:{proxy_port}/", host),
            }
            with ExitStack() as proxies:
                for label, make in (("haproxy", haproxy), ("nginx", nginx), ("caddy", caddy)):
                    if label in tools:
                        port = free_port()
                        log = work / f"{label}.log"
                        proxies.enter_context(running(make(work, port, target), port, log))
                        targets[label] = (f"http://127.0.0.1:{port}/", None)
                # round robin, median of the rounds: the machine's load moves under a bench
                runs: dict[str, list[dict[str, float]]] = {label: [] for label in targets}
                for _ in range(rounds):
                    for label, (url, host_header) in targets.items():
                        runs[label].append(wrk(url, seconds, host_header))
            for label, results in runs.items():
                figures[label] = {
                    key: statistics.median(r[key] for r in results) for key in results[0]
                }
        finally:
            client.remove(name, force=True)
            client.trash_purge(name)
    finally:
        client.close()
        stop_daemon(daemon)
    return figures


def main() -> int:
    args = parse_args(__doc__, rounds=3, seconds=5)
    if lacks_root("bench_preview", "colonies and the colony's address"):
        return 1
    tools = ensure_tools()
    work = make_work("colony-bench-preview")
    work.chmod(0o755)  # the colony's user reads the repository
    with ExitStack() as stack:
        stack.callback(remove_work, work)
        figures = measure(args.seconds, args.rounds, tools, work)
    direct = figures["direct"]
    for f in figures.values():
        f["ratio"] = f["rps"] / direct["rps"]
        f["added_p50"] = f["p50"] - direct["p50"]
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"wrk -t2 -c32 -d{args.seconds}s, median of {args.rounds} rounds (round robin), "
        "tiny keep-alive backend (nginx) in a colony"
    )
    for label, f in figures.items():
        print(
            f"{label:8s} {f['rps']:9.0f} req/s   p50 {f['p50']:6.2f} ms   p99 {f['p99']:6.2f} ms"
            f"   {f['ratio']:5.2f}x direct   added p50 {f['added_p50']:+5.2f} ms"
        )
    colony, ha = figures["colony"], figures.get("haproxy")
    goal = f"goal: colony >= 0.37x direct{' and >= haproxy' if ha else ''}, added p50 <= 0.5 ms"
    met = colony["ratio"] >= 0.37 and (ha is None or colony["ratio"] >= ha["ratio"])
    met = met and colony["added_p50"] <= 0.5
    print(f"{goal}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
