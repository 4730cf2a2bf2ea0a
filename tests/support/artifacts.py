"""The real programs of the lab and of the tests, downloaded or built once per machine.

    artifacts.py build [NAME ...]   fetch/build what is not cached (all by default), with progress
    artifacts.py path NAME          print the cached artifact's directory (builds it first if needed)
    artifacts.py list               what is cached, and the key each artifact is looked up by
    artifacts.py lock NAME          rebuild NAME's checksum pins (kafka: jars.sha256, otelcol/cadvisor: go.sum)

Test support, never shipped. Every recipe is in tests/support/builds/ and pinned: versions in the
recipe, checksums beside it (kafka/jars.sha256, otelcol/go.sum, cadvisor/go.sum). An artifact
lives in $DOJO_LAB_CACHE/artifacts/<name>-<version>-<key>/ (default /var/cache/dojo-kafka-lab,
shared with the lab's base tree), where <key> hashes the recipe's files: fresh clones on the same
machine reuse it, a changed recipe builds a new one (the outdated one is removed). Maven's local
repository and Go's module and build caches live in the same cache directory.

| name           | what                                                                          | by         |
| kafka          | Apache Kafka (KRaft) jars + the OpenTelemetry Java agent, laid out as /opt/kafka | mvn        |
| kafka-image    | localhost/kafka:<version>: Debian trixie, its OpenJDK JRE, /opt/kafka, the agent | debootstrap |
| otelcol        | the OpenTelemetry Collector of builds/otelcol/manifest.yaml                    | ocb, go    |
| cadvisor-image | localhost/cadvisor:v0.52.1: cAdvisor v0.52.1 (library) in an image of its own | go         |

The images are root filesystem tars for `podman import` (no registry is reachable from the lab);
kafka-image needs root (debootstrap). Python standard library only.
"""

import argparse
import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPES = HERE / "builds"
CACHE = Path(os.environ.get("DOJO_LAB_CACHE", "/var/cache/dojo-kafka-lab"))
ARTIFACTS = CACHE / "artifacts"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "trixie"


class ArtifactError(RuntimeError):
    pass


def say(msg):
    print("==> artifacts: " + msg, flush=True)


def run_logged(cmd, log, what, *, cwd=None, env=None, every=15.0, say=say):
    """Run cmd with its output in log; print (with say) the log's last line every `every` seconds.
    A failure raises ArtifactError with the log's last lines."""
    start = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env
        )
    while True:
        try:
            rc = proc.wait(timeout=every)
            break
        except subprocess.TimeoutExpired:
            lines = log.read_text(errors="replace").splitlines()
            say("  {0}: {1:.0f}s, {2}".format(what, time.monotonic() - start, lines[-1][:160] if lines else "..."))
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise ArtifactError("{0} failed (rc {1}); last lines of {2}:\n{3}".format(what, rc, log, tail))
    return time.monotonic() - start


def list_file(path):
    """The entries of a list file: one per line, `#` starts a comment, blank lines skipped."""
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def file_key(*paths):
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


GO_MINIMUM = (1, 24)  # the Collector 0.165 and cAdvisor 0.52 modules' go lines


def go_env():
    """Go's environment for the builds, after checking that a recent enough Go is installed."""
    if shutil.which("go") is None:
        raise ArtifactError(
            "go is not installed: the Collector and cAdvisor are built with Go {0}.{1} or later".format(*GO_MINIMUM)
        )
    found = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=False).stdout.strip()
    match = re.match(r"go(\d+)\.(\d+)", found)
    if not match or (int(match.group(1)), int(match.group(2))) < GO_MINIMUM:
        raise ArtifactError("{0} is too old: Go {1}.{2} or later is needed".format(found or "go", *GO_MINIMUM))
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(CACHE / "go" / "mod"),
        GOCACHE=str(CACHE / "go" / "build"),
        GOTOOLCHAIN="local",  # the machine's Go; a recipe needing another fails instead of downloading one
        GOFLAGS="-buildvcs=false",
        CGO_ENABLED="0",
    )
    return env


def reproducible_tar(entries, dest):
    """Write a tar of entries [(path, kind, source_or_target, mode)] sorted, owner root, mtime 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, kind, source, mode in sorted(entries):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.mode, info.mtime, info.uname, info.gname = mode, 0, "root", "root"
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = Path(source).stat().st_size
                with open(source, "rb") as f:
                    tar.addfile(info, f)
    dest.write_bytes(buf.getvalue())


def write_image_meta(work, name, changes):
    """Beside image.tar: its name, its sha256 (the lab imports again only when it changes) and the
    image configuration lines (`podman import --change`), so that the artifact is self-contained."""
    (work / "image.name").write_text(name + "\n")
    (work / "image.sha256").write_text(sha256_file(work / "image.tar") + "\n")
    shutil.copy(changes, work / "image.changes")


# ---------------------------------------------------------------- the artifacts
class Artifact:
    name = ""
    description = ""

    def version(self):
        raise NotImplementedError

    def inputs(self):
        raise NotImplementedError

    def key(self):
        return file_key(*self.inputs())

    def path(self):
        return ARTIFACTS / "{0}-{1}-{2}".format(self.name, self.version(), self.key())

    def cached(self):
        return (self.path() / ".complete").exists()

    def build(self, work):
        """Build into the directory work (renamed to path() when this returns)."""
        raise NotImplementedError

    def ensure(self):
        dest = self.path()
        if self.cached():
            say("{0} {1}: cached ({2})".format(self.name, self.version(), dest))
            return dest
        for dep in getattr(self, "depends", ()):
            ARTIFACT_TYPES[dep]().ensure()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        work = dest.with_name(dest.name + ".partial")
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        say("{0} {1}: building ({2})".format(self.name, self.version(), self.description))
        start = time.monotonic()
        self.build(work)
        (work / ".complete").write_text(self.key() + "\n")
        work.rename(dest)
        say("{0} {1}: built in {2:.0f}s -> {3}".format(self.name, self.version(), time.monotonic() - start, dest))
        for old in ARTIFACTS.glob(self.name + "-*"):
            if old != dest and re.fullmatch(re.escape(self.name) + r"-[^-]+(-otel-[^-]+)?-[0-9a-f]{12}", old.name):
                say("removing the outdated {0}".format(old.name))
                shutil.rmtree(old, ignore_errors=True)
        return dest


class Kafka(Artifact):
    """Apache Kafka's jars from Maven Central, laid out like the distribution (bin, config, libs)."""

    name = "kafka"
    description = "mvn: Apache Kafka and the OpenTelemetry Java agent from Maven Central, ~10 s"
    recipe = RECIPES / "kafka"

    def pom_property(self, name):
        root = ET.parse(self.recipe / "pom.xml").getroot()
        ns = {"m": "http://maven.apache.org/POM/4.0.0"}
        return root.find("m:properties/m:" + name, ns).text.strip()

    def version(self):
        return "{0}-otel-{1}".format(self.pom_property("kafka.version"), self.pom_property("otel.javaagent.version"))

    def inputs(self):
        return [self.recipe / n for n in sorted(os.listdir(self.recipe)) if not n.startswith(".")]

    def tools(self):
        return [entry.split() for entry in list_file(self.recipe / "tools.txt")]

    def maven(self, out, log_dir):
        if shutil.which("mvn") is None:
            raise ArtifactError("mvn is not installed (Debian package maven; `make deps` installs it)")
        run_logged(
            [
                "mvn",
                "--batch-mode",
                "--no-transfer-progress",
                "--strict-checksums",
                "-Dstyle.color=never",
                "-Dmaven.repo.local={0}".format(CACHE / "m2"),
                "-Doutput.dir={0}".format(out),
                "-f",
                self.recipe / "pom.xml",
                "package",
            ],
            log_dir / "mvn.log",
            "mvn package",
            cwd=log_dir,
        )

    def checksums(self, dist):
        return {
            str(p.relative_to(dist)): sha256_file(p)
            for p in sorted(dist.rglob("*.jar"))  # libs/*.jar and otel/opentelemetry-javaagent.jar
        }

    def build(self, work):
        dist = work / "dist"
        self.maven(dist, work)
        pinned = self.pinned()
        found = self.checksums(dist)
        if pinned != found:
            missing = sorted(set(pinned) - set(found))
            extra = sorted(set(found) - set(pinned))
            changed = sorted(k for k in set(pinned) & set(found) if pinned[k] != found[k])
            raise ArtifactError(
                "the jars Maven resolved differ from kafka/jars.sha256 (missing {0}, unexpected {1}, "
                "checksum changed {2}): after a deliberate version change run `artifacts.py lock kafka`".format(
                    missing, extra, changed
                )
            )
        say("  {0} jars match kafka/jars.sha256".format(len(found)))
        home = work / "kafka"
        (home / "bin").mkdir(parents=True)
        (home / "config").mkdir()
        shutil.move(str(dist / "libs"), str(home / "libs"))
        shutil.move(str(dist / "otel"), str(work / "otel"))
        for script in ("kafka-run-class.sh", "kafka-server-start.sh"):
            shutil.copy(self.recipe / script, home / "bin" / script)
        for script, main_class in self.tools():
            target = home / "bin" / script
            if not target.exists():
                target.write_text(
                    "#!/usr/bin/env bash\n# {0}: {1} (builds/kafka/tools.txt)\n"
                    'exec "$(dirname "$0")/kafka-run-class.sh" {1} "$@"\n'.format(script, main_class)
                )
        for script in (home / "bin").iterdir():
            script.chmod(0o755)
        for conf in ("log4j2.properties", "tools-log4j2.properties"):
            shutil.copy(self.recipe / conf, home / "config" / conf)
        shutil.copy(self.recipe / "run", work / "run")
        shutil.rmtree(dist)

    def pinned(self):
        pins = {}
        lock = self.recipe / "jars.sha256"
        if lock.exists():
            for line in lock.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    digest, name = line.split()
                    pins[name] = digest
        return pins

    def lock(self):
        with tempfile.TemporaryDirectory(prefix="dojo-kafka-lock-") as tmp:
            dist = Path(tmp) / "dist"
            self.maven(dist, Path(tmp))
            found = self.checksums(dist)
        lines = ["# sha256 of every jar of tests/support/builds/kafka/pom.xml (`artifacts.py lock kafka` rewrites it)"]
        lines += ["{0}  {1}".format(digest, name) for name, digest in sorted(found.items())]
        (self.recipe / "jars.sha256").write_text("\n".join(lines) + "\n")
        say("kafka: {0} jars pinned in {1}".format(len(found), self.recipe / "jars.sha256"))


class KafkaImage(Artifact):
    """localhost/kafka:<version>: a Debian trixie root filesystem with a JRE, /opt/kafka and the agent."""

    name = "kafka-image"
    description = "debootstrap trixie + OpenJDK JRE, /opt/kafka, the Java agent; ~2 min, needs root"
    depends = ("kafka",)
    packages_file = RECIPES / "kafka-image" / "packages.txt"

    def version(self):
        return Kafka().pom_property("kafka.version")

    def inputs(self):
        return [self.packages_file, self.packages_file.with_name("image.changes"), *Kafka().inputs()]

    def image(self):
        return "localhost/kafka:{0}".format(self.version())

    def build(self, work):
        if os.geteuid() != 0:
            raise ArtifactError("building the Kafka image needs root (debootstrap): run it through `make lab-up`")
        if shutil.which("debootstrap") is None:
            raise ArtifactError("debootstrap is not installed (`make deps` installs it)")
        rootfs = work / "rootfs"
        packages = list_file(self.packages_file)
        run_logged(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(packages), SUITE, rootfs, MIRROR],
            work / "debootstrap.log",
            "debootstrap {0} with {1}".format(SUITE, ", ".join(packages)),
        )
        # what the image does not need: apt's lists and caches, documentation, locales
        for sub in ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man", "usr/share/locale"):
            target = rootfs / sub
            if target.exists():
                shutil.rmtree(target)
                target.mkdir(parents=True)
        kafka = Kafka().path()
        shutil.copytree(kafka / "kafka", rootfs / "opt" / "kafka", symlinks=True)
        shutil.copytree(kafka / "otel", rootfs / "opt" / "otel")
        (rootfs / "etc" / "kafka" / "docker").mkdir(parents=True)
        shutil.copy(kafka / "run", rootfs / "etc" / "kafka" / "docker" / "run")
        (rootfs / "var" / "lib" / "kafka" / "data").mkdir(parents=True)
        versions = subprocess.run(
            ["chroot", rootfs, "dpkg-query", "-W", "-f", "${Package} ${Version}\n", *packages],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (work / "packages.lock").write_text(versions)
        run_logged(
            ["tar", "--numeric-owner", "--sort=name", "-C", rootfs, "-cf", work / "image.tar", "."],
            work / "tar.log",
            "tar of the root filesystem",
        )
        shutil.rmtree(rootfs)
        write_image_meta(work, self.image(), self.packages_file.with_name("image.changes"))


class Otelcol(Artifact):
    """The OpenTelemetry Collector of builds/otelcol/manifest.yaml, built with ocb."""

    name = "otelcol"
    description = "ocb + go build from the Go module proxy, ~2-4 min on 2 cores"
    recipe = RECIPES / "otelcol"

    def version(self):
        match = re.search(r"^\s+version:\s*([0-9.]+)\s*$", (self.recipe / "manifest.yaml").read_text(), re.M)
        if not match:
            raise ArtifactError("builds/otelcol/manifest.yaml has no dist.version")
        return match.group(1)

    def inputs(self):
        return [self.recipe / "manifest.yaml", self.recipe / "go.sum"]

    def ocb(self, work):
        env = go_env()
        env["GOBIN"] = str(CACHE / "go" / "bin" / "builder-v{0}".format(self.version()))
        builder = Path(env["GOBIN"]) / "builder"
        if not builder.exists():
            run_logged(
                ["go", "install", "go.opentelemetry.io/collector/cmd/builder@v{0}".format(self.version())],
                work / "go-install-builder.log",
                "go install the Collector Builder v{0}".format(self.version()),
                env=env,
            )
        return builder, env

    def generate(self, work, seed_go_sum):
        builder, env = self.ocb(work)
        shutil.copy(self.recipe / "manifest.yaml", work / "manifest.yaml")
        (work / "dist").mkdir(exist_ok=True)
        if seed_go_sum:
            shutil.copy(self.recipe / "go.sum", work / "dist" / "go.sum")
        run_logged(
            [builder, "--config", "manifest.yaml", "--ldflags=-s -w"],
            work / "ocb.log",
            "ocb: generate and compile the collector",
            cwd=work,
            env=env,
        )
        return work / "dist"

    def build(self, work):
        dist = self.generate(work, seed_go_sum=True)
        if (dist / "go.sum").read_text() != (self.recipe / "go.sum").read_text():
            raise ArtifactError(
                "the collector's go.sum differs from builds/otelcol/go.sum: after a deliberate manifest change "
                "run `artifacts.py lock otelcol`"
            )
        binary = dist / "otelcol-dojo"
        shutil.move(str(binary), str(work / "otelcol-dojo"))
        shutil.rmtree(dist)

    def lock(self):
        with tempfile.TemporaryDirectory(prefix="dojo-otelcol-lock-") as tmp:
            dist = self.generate(Path(tmp), seed_go_sum=False)
            shutil.copy(dist / "go.sum", self.recipe / "go.sum")
        say("otelcol: {0} rewritten".format(self.recipe / "go.sum"))


class CadvisorImage(Artifact):
    """localhost/cadvisor:v0.52.1: a static cAdvisor binary as the image's only program."""

    name = "cadvisor-image"
    description = "go build of cAdvisor v0.52.1 from the Go module proxy, ~1-3 min on 2 cores"
    recipe = RECIPES / "cadvisor"

    def version(self):
        match = re.search(r"github\.com/google/cadvisor (v[0-9.]+)", (self.recipe / "go.mod").read_text())
        return match.group(1)

    def inputs(self):
        return [self.recipe / n for n in ("go.mod", "go.sum", "main.go", "image.changes")]

    def image(self):
        return "localhost/cadvisor:{0}".format(self.version())

    def build(self, work):
        binary = work / "cadvisor"
        run_logged(
            ["go", "build", "-mod=readonly", "-trimpath", "-ldflags=-s -w", "-o", binary, "."],
            work / "go-build.log",
            "go build cAdvisor {0}".format(self.version()),
            cwd=self.recipe,
            env=go_env(),
        )
        reproducible_tar(
            [
                ("/usr", "dir", None, 0o755),
                ("/usr/bin", "dir", None, 0o755),
                ("/usr/bin/cadvisor", "file", binary, 0o755),
                ("/tmp", "dir", None, 0o1777),
                ("/etc", "dir", None, 0o755),
            ],
            work / "image.tar",
        )
        write_image_meta(work, self.image(), self.recipe / "image.changes")

    def lock(self):
        subprocess.run(["go", "mod", "tidy"], cwd=self.recipe, env=dict(go_env(), GOFLAGS="-mod=mod"), check=True)
        say("cadvisor-image: {0} rewritten".format(self.recipe / "go.sum"))


ARTIFACT_TYPES = {cls.name: cls for cls in (Kafka, KafkaImage, Otelcol, CadvisorImage)}


def ensure(name):
    """The directory of the cached artifact `name`, built first when it is not cached."""
    return ARTIFACT_TYPES[name]().ensure()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="fetch/build what is not cached")
    build.add_argument("names", nargs="*", metavar="NAME", help=", ".join(sorted(ARTIFACT_TYPES)) + " (default: all)")
    path = sub.add_parser("path", help="the cached artifact's directory")
    path.add_argument("name", choices=sorted(ARTIFACT_TYPES))
    sub.add_parser("list", help="what is cached")
    lock = sub.add_parser("lock", help="rewrite a recipe's checksum pins")
    lock.add_argument("name", choices=["kafka", "otelcol", "cadvisor-image"])
    args = parser.parse_args(argv)
    unknown = sorted(set(getattr(args, "names", [])) - set(ARTIFACT_TYPES))
    if unknown:
        known = ", ".join(sorted(ARTIFACT_TYPES))
        parser.error("unknown artifact(s) {0}; known: {1}".format(", ".join(unknown), known))
    try:
        if args.command == "build":
            for name in args.names or list(ARTIFACT_TYPES):
                ensure(name)
        elif args.command == "path":
            with contextlib.redirect_stdout(sys.stderr):
                dest = ensure(args.name)
            print(dest)
        elif args.command == "list":
            for name, cls in ARTIFACT_TYPES.items():
                artifact = cls()
                print(
                    "{0:<15} {1:<22} {2}".format(
                        name, artifact.version(), artifact.path() if artifact.cached() else "not built"
                    )
                )
        elif args.command == "lock":
            ARTIFACT_TYPES[args.name]().lock()
    except ArtifactError as exc:
        print("artifacts: " + str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
