"""Build a tiny container root filesystem as a reproducible tar, for ``podman import``.

Test support for the lab (never product): no registry is reachable there, so the lab's
images (``localhost/tansu:lab``, ``localhost/cadvisor-standin:lab``) are made from files the
guest already has, then imported into vagrant's storage by tests/support/lab/baseline.yml.

    rootfs_tar.py --output IMAGE.tar [--python] [--file SRC:DEST[:MODE]]... [--dir PATH[:MODE]]...

- ``--python``: the running interpreter (``sys.executable``), its standard library without the
  parts a stand-in never imports (tests, tkinter, idlelib, asyncio, sqlite3, ...; no
  ``__pycache__``), its extension modules, and every shared library they need (resolved with
  ``ldd``, symlinked directories such as merged-/usr ``/lib`` kept as symlinks), all at the
  same absolute paths as on the build host, plus ``/usr/bin/python3`` pointing at it.
- ``--file``: a file copied to DEST (default mode 0644; e.g. ``0755`` for a binary).
- ``--dir``: an empty directory (e.g. ``/tmp:1777``).

The tar is reproducible (sorted entries, owner root, mtime 0), so its sha256 identifies the
content: the output file is only rewritten when it changes, and the baseline labels the image
with it to import again only on change. Prints one JSON line:
``{"path": ..., "sha256": ..., "changed": bool, "size": ..., "python": "/usr/bin/python3.X"}``.
Python standard library only.
"""

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile

# stdlib parts a stand-in never needs (keeps the image small)
SKIP_STDLIB = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "site-packages",
    "dist-packages",
    "venv",
    "sqlite3",
    "curses",
    "dbm",
    "xmlrpc",
    "asyncio",
    "multiprocessing",
    "unittest",
    "distutils",
    "__pycache__",
    "__phello__",
    "turtle.py",
    "pydoc.py",
}
SKIP_EXTENSIONS = re.compile(
    r"^(_tkinter|_sqlite3|_curses.*|readline|_dbm|_gdbm|_test.*|xxlimited.*|_xx.*|_ctypes_test|_ssl|_hashlib|nis"
    r"|_crypt|ossaudiodev|audioop|_codecs_(cn|hk|jp|kr|tw|iso2022)|_lsprof|_asyncio|_multiprocessing|_posixshmem)\."
)


class Rootfs:
    def __init__(self):
        self.entries = {}  # path -> (kind, payload, mode)

    def add_dir(self, path, mode=0o755):
        path = "/" + path.strip("/")
        if path == "/":
            return
        self.add_dir(os.path.dirname(path))
        if path not in self.entries:
            self.entries[path] = ("dir", None, mode)

    def _add_parents(self, path):
        """Parents of path as on the build host: symlinked directories stay symlinks."""
        parent = os.path.dirname(path)
        current = ""
        for part in [p for p in parent.split("/") if p]:
            current += "/" + part
            if os.path.islink(current):
                self.add_symlink(current, os.readlink(current))
                return self._add_parents(os.path.join(os.path.realpath(current), os.path.relpath(path, current)))
            self.add_dir(current)
        return path

    def add_symlink(self, path, target):
        path = self._add_parents(path)
        self.entries[path] = ("symlink", target, 0o777)

    def add_file(self, src, dest, mode=None):
        """Add src's content (symlinks followed) at dest, whose parent symlinks are kept."""
        dest = self._add_parents(dest)
        if mode is None:
            mode = os.stat(src).st_mode & 0o7777
        self.entries[dest] = ("file", os.path.realpath(src), mode)

    def add_host_file(self, path):
        self.add_file(path, path)

    def write(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, payload, mode = self.entries[path]
                info = tarfile.TarInfo(path.lstrip("/"))
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = mode
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = payload
                    tar.addfile(info)
                else:
                    info.size = os.path.getsize(payload)
                    with open(payload, "rb") as handle:
                        tar.addfile(info, handle)
        return buf.getvalue()


def shared_libraries(binary):
    """Paths of the shared libraries ``ldd`` resolves for a binary (and its loader)."""
    proc = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    paths = []
    for line in proc.stdout.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


def add_python(rootfs):
    interpreter = os.path.realpath(sys.executable)
    rootfs.add_host_file(interpreter)
    rootfs.add_symlink("/usr/bin/python3", interpreter)
    stdlib = sysconfig.get_paths()["stdlib"]
    dynload = os.path.join(stdlib, "lib-dynload")
    binaries = [interpreter]
    for root, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_STDLIB and not d.startswith("config-"))
        for name in sorted(files):
            path = os.path.join(root, name)
            if root.startswith(dynload):
                if name.endswith(".so") and not SKIP_EXTENSIONS.match(name):
                    rootfs.add_host_file(path)
                    binaries.append(path)
            elif name.endswith(".py") and name not in SKIP_STDLIB:
                rootfs.add_host_file(path)
    seen = set()
    for binary in binaries:
        for lib in shared_libraries(binary):
            if lib not in seen:
                seen.add(lib)
                rootfs.add_host_file(lib)
    return "/usr/bin/python3", interpreter


def _mode(text, default):
    return int(text, 8) if text else default


def main(argv=None):
    parser = argparse.ArgumentParser(description="reproducible rootfs tar for podman import (lab test support)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--python", action="store_true", help="include this python3 and its stdlib")
    parser.add_argument("--file", action="append", default=[], help="SRC:DEST[:MODE]")
    parser.add_argument("--dir", action="append", default=[], help="PATH[:MODE]")
    args = parser.parse_args(argv)
    rootfs = Rootfs()
    python = None
    if args.python:
        python = add_python(rootfs)[1]
    for spec in args.file:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            parser.error("--file wants SRC:DEST[:MODE], got {0!r}".format(spec))
        rootfs.entries.pop(parts[1], None)
        rootfs.add_dir(os.path.dirname(parts[1]))
        rootfs.entries["/" + parts[1].strip("/")] = (
            "file",
            os.path.realpath(parts[0]),
            _mode(parts[2] if len(parts) == 3 else "", 0o644),
        )
    for spec in args.dir:
        path, _sep, mode = spec.partition(":")
        rootfs.add_dir(path, _mode(mode, 0o755))
    data = rootfs.write()
    sha = hashlib.sha256(data).hexdigest()
    changed = True
    if os.path.exists(args.output):
        with open(args.output, "rb") as handle:
            changed = hashlib.sha256(handle.read()).hexdigest() != sha
    if changed:
        tmp = args.output + ".tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, args.output)
    print(json.dumps({"path": args.output, "sha256": sha, "changed": changed, "size": len(data), "python": python}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
