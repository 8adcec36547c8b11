"""Hosts as Linux namespaces on this machine: a network namespace each, one bridge between them.

Each host has its own address (10.77.0.x/24 on a bridge that lives inside the server host's
network namespace, so the machine's own firewall never sees the traffic), and every command run
"on" a host gets a private mount namespace in which:

- /opt is the host's own directory (<lab>/hosts/<name>): its home, checkout, venvs and data;
- the repository of this machine, /root and /tmp are empty tmpfs mounts, so a host sees neither
  the operator's checkout nor another host's directory (the lab root sits under /tmp);
- the only things it shares with the machine, read-only: the Python interpreter, the locked
  dependency set (.venv's site-packages: the "machine image"; bullpen itself is NOT taken from
  there, its editable .pth points into the hidden checkout), .venv-infra (Ansible) and a
  wheelhouse with the build backend (the hosts have no package index);
- its own hostname (a UTS namespace): runs record socket.gethostname() as their host.

The test process itself stays in the root namespaces and reaches the hosts through a veth at
10.77.0.254 (the observer), the way an operator's laptop would.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
PREFIX = "bpmh"
SUBNET = "10.77.0"
OBSERVER = f"{SUBNET}.254"
BRIDGE = "br0"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _python_prefix() -> Path:
    """The base interpreter .venv was made from (pyvenv.cfg `home` is its bin directory)."""
    for line in (REPO / ".venv" / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).parent
    raise RuntimeError(".venv/pyvenv.cfg names no base interpreter")


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Host:
    name: str
    address: str
    dir: Path  # on the machine; the host sees it as /opt
    lab: Lab
    cpu: int | None = None  # a worker host gets a core of its own, as a separate machine would

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    def argv(self, argv: list[str], user: tuple[int, int] | None = None) -> list[str]:
        """`argv` run inside this host's network namespace and a fresh private mount namespace
        set up as the module docstring says; as (uid, gid) when `user` is given."""
        prefix = str(self.lab.python_prefix)
        hidden = [str(REPO.parent if REPO.parent != Path("/") else REPO), "/root", "/tmp"]
        keep = {
            "deps": REPO / ".venv",
            "infra": REPO / ".venv-infra",
            "python": self.lab.python_prefix,
        }
        if self.lab.wheelhouse.exists():  # setuptools for building the project, offline
            keep["wheelhouse"] = self.lab.wheelhouse
        # Its own hostname too (a UTS namespace): runs record socket.gethostname() as their host.
        lines = [
            "set -e",
            f"hostname {self.name}",
            f"mount --bind {shlex.quote(str(self.dir))} /opt",
        ]
        for name, source in keep.items():
            target = f"/opt/.sys/{name}"
            lines += [
                f"mkdir -p {target}",
                f"mount --bind {shlex.quote(str(source))} {target}",
                f"mount -o remount,bind,ro {target}",
            ]
        lines += [f"mount -t tmpfs -o mode=755 {PREFIX}-hidden {shlex.quote(p)}" for p in hidden]
        lines += ["chmod 1777 /tmp"]
        if any(prefix == h or prefix.startswith(h.rstrip("/") + "/") for h in hidden):
            # The interpreter lived under a hidden folder: put it back at its own path.
            lines += [
                f"mkdir -p {shlex.quote(prefix)}",
                f"mount --bind /opt/.sys/python {shlex.quote(prefix)}",
            ]
        drop: list[str] = []
        if user is not None:
            uid, gid = user
            drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
        lines.append('exec "$@"')
        pin = [] if self.cpu is None else ["taskset", "-c", str(self.cpu)]
        return [
            *pin, "ip", "netns", "exec", self.netns,
            "unshare", "--mount", "--uts", "--propagation", "private", "--",
            "/bin/sh", "-c", "\n".join(lines), "host-" + self.name, *drop, *argv,
        ]  # fmt: skip

    def env(self, extra: dict[str, str] | None = None, home: str = "/opt/admin") -> dict[str, str]:
        """A clean environment (nothing of the test process's BULLPEN_*/PREFECT_* leaks in)."""
        base = {
            "PATH": HOST_PATH,
            "HOME": home,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOSTNAME": self.name,
        }
        return {**base, **(extra or {})}

    def run(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        user: tuple[int, int] | None = None,
        timeout: float = 300,
        check: bool = True,
        cwd: str = "/",
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(argv, user),
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"on {self.name}: {shlex.join(argv)} exited {done.returncode}\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done

    def spawn(
        self,
        argv: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        *,
        user: tuple[int, int] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process on this host (its own process group), output to `log`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                self.argv(argv, user),
                env=env or self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd="/",
            )
        self.lab.processes.append(process)
        return process

    def pids(self) -> list[int]:
        """Every process in this host's network namespace."""
        done = sh("ip", "netns", "pids", self.netns, check=False)
        return [int(p) for p in done.stdout.split()]


@dataclass
class Lab:
    root: Path
    names: tuple[str, ...] = ("server", "w1", "w2")
    hosts: dict[str, Host] = field(default_factory=dict)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    python_prefix: Path = field(default_factory=_python_prefix)

    def __post_init__(self) -> None:
        cpus = os.cpu_count() or 1
        for index, name in enumerate(self.names, start=1):
            path = self.root / "hosts" / name
            # Worker hosts (all but the first) are pinned to one core each when there are
            # enough, so "one more worker host" means one more core, as on real machines; the
            # server host shares them all.
            cpu = index - 2 if index > 1 and cpus >= len(self.names) - 1 else None
            self.hosts[name] = Host(name, f"{SUBNET}.{index}", path, self, cpu)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def wheelhouse(self) -> Path:
        return self.root / "wheelhouse"

    def create(self) -> None:
        """Namespaces, the bridge (in the first host's namespace), one veth per host and one to
        the observer in the root namespace."""
        destroy_stale()
        first = self.hosts[self.names[0]]
        for host in self.hosts.values():
            host.dir.mkdir(parents=True, exist_ok=True)
            (host.dir / "admin").mkdir(exist_ok=True, mode=0o700)
            sh("ip", "netns", "add", host.netns)
            sh("ip", "-n", host.netns, "link", "set", "lo", "up")
        sh("ip", "-n", first.netns, "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "-n", first.netns, "addr", "add", f"{first.address}/24", "dev", BRIDGE)
        sh("ip", "-n", first.netns, "link", "set", BRIDGE, "up")
        for host in list(self.hosts.values())[1:]:
            port = f"{PREFIX}-{host.name}p"
            sh("ip", "link", "add", port, "netns", first.netns, "type", "veth",
               "peer", "name", "eth0", "netns", host.netns)  # fmt: skip
            sh("ip", "-n", first.netns, "link", "set", port, "master", BRIDGE, "up")
            sh("ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            sh("ip", "-n", host.netns, "link", "set", "eth0", "up")
        sh("ip", "link", "add", f"{PREFIX}-obs", "type", "veth",
           "peer", "name", f"{PREFIX}-obsp", "netns", first.netns)  # fmt: skip
        sh("ip", "-n", first.netns, "link", "set", f"{PREFIX}-obsp", "master", BRIDGE, "up")
        sh("ip", "addr", "add", f"{OBSERVER}/24", "dev", f"{PREFIX}-obs")
        sh("ip", "link", "set", f"{PREFIX}-obs", "up")
        self.logs.mkdir(parents=True, exist_ok=True)

    def destroy(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        destroy_stale()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


def destroy_stale() -> None:
    """Kill every process in a bpmh-* namespace, then delete the namespaces and the observer's
    veth: what any earlier run (killed or crashed) may have left."""
    names = [
        line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines() if line.strip()
    ]
    ours = [n for n in names if n.startswith(f"{PREFIX}-")]
    for _ in range(50):
        pids = [
            int(p) for n in ours for p in sh("ip", "netns", "pids", n, check=False).stdout.split()
        ]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for name in ours:
        sh("ip", "netns", "del", name, check=False)
    sh("ip", "link", "del", f"{PREFIX}-obs", check=False)
