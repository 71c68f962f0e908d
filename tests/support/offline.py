"""Run a command with the network cut: in a new network namespace where only loopback is up.

Usage: python tests/support/offline.py COMMAND [ARG ...]        (``make test`` runs pytest this way)

Inside, a kernel still talks to Jupyter over 127.0.0.1, but nothing reaches the internet, so a notebook that
downloads anything fails. The command sees ``COURSE_NETWORK=cut``. Where no namespace can be made (no
``unshare``, or neither root nor unprivileged user namespaces), this prints why in a banner and runs the command
with the network, setting ``COURSE_NETWORK="not cut: <why>"``: tests/test_user_runs.py then reports the offline
test as skipped (a failure under ``CI=true``), so it never passes silently.

Standard library only: it runs before, and around, everything else.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys

ENV = "COURSE_NETWORK"
CUT = "cut"
_INSIDE, _PROBE = "--inside", "--probe"


def unshare_command(argv: list[str], flags: tuple[str, ...] = ("--net",)) -> list[str]:
    """The command that runs this script with ``argv`` in a fresh network namespace."""
    return ["unshare", *flags, sys.executable, os.path.abspath(__file__), *argv]


def namespace_flags() -> tuple[tuple[str, ...] | None, str]:
    """The ``unshare`` flags that make a namespace with loopback up here, or None and why none works."""
    if shutil.which("unshare") is None:
        return None, "`unshare` (util-linux) is not installed"
    # As root, a plain network namespace; otherwise (or where root lacks CAP_SYS_ADMIN, as in a default Docker
    # container) a user namespace too, in which we are root and may set lo up.
    candidates = ([("--net",)] if os.geteuid() == 0 else []) + [("--net", "--map-root-user")]
    why = ""
    for flags in candidates:
        try:
            probe = subprocess.run(unshare_command([_PROBE], flags), capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            why = f"`unshare {' '.join(flags)}` could not run: {exc}"
            continue
        if probe.returncode == 0:
            return flags, ""
        detail = (probe.stderr or probe.stdout).strip().splitlines()
        why = f"`unshare {' '.join(flags)}` failed: {detail[-1] if detail else f'exit status {probe.returncode}'}"
    return None, why


def loopback_up() -> None:
    """Bring ``lo`` up (what ``ip link set lo up`` does), with one ioctl: no iproute2 needed."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def interfaces() -> list[str]:
    """The network interfaces of this process's namespace (not /sys/class/net: sysfs shows the host's)."""
    return sorted(name for _, name in socket.if_nameindex())


def _enter() -> None:
    loopback_up()
    others = [name for name in interfaces() if name != "lo"]
    if others:
        raise SystemExit(f"tests/support/offline.py: the new network namespace has interfaces besides lo: {others}")


def _banner(why: str) -> None:
    strict = " Under CI this is a failure." if os.environ.get("CI", "").lower() in ("1", "true", "yes") else ""
    lines = [
        "THE NETWORK IS NOT CUT: the offline test will be SKIPPED." + strict,
        f"Why: {why}.",
        "To enable it: run as root, or allow unprivileged user namespaces",
        "(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0).",
        "Everything else runs, with the network.",
    ]
    width = max(map(len, lines)) + 4
    print("\n".join(["!" * width, *(f"! {line:<{width - 4}} !" for line in lines), "!" * width]), file=sys.stderr)


def main(argv: list[str]) -> int:
    if argv[:1] == [_PROBE]:
        _enter()
        return 0
    inside = argv[:1] == [_INSIDE]
    command = argv[1:] if inside else argv
    if not command or command[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    env = dict(os.environ)
    if inside:
        _enter()
        env[ENV] = CUT
    elif os.environ.get(ENV) != CUT:  # already inside: nothing to do
        flags, why = namespace_flags()
        if flags is not None:
            command = unshare_command([_INSIDE, *command], flags)
        else:
            _banner(why)
            env[ENV] = f"not cut: {why}"
    sys.stdout.flush()
    os.execvpe(command[0], command, env)  # replaces this process: the command's exit status is ours


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
