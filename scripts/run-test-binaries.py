#!/usr/bin/env python3
"""Runs the workspace's test binaries, several at a time, after `cargo test --no-run`.

`cargo test` runs its test binaries one after the other. Many of ours spend most of their wall
time waiting (child processes polling a database, a killed prover's job waiting out its
timeout, Prometheus scraping every second, servers starting), so on two cores one binary alone
leaves a core idle much of the time. This runs `--jobs` binaries at once instead, longest first,
each exactly as `cargo test` runs it (its package directory as the working directory, the same
`CARGO_*` variables), and prints each binary's whole output as one block when it ends, under
the line cargo prints (`     Running tests/x.rs (target/debug/deps/x-HASH)`), so that a reader
and `.ci/run`'s checks see what `cargo test` would show. Nothing is skipped or filtered.

The small test keystore (`target/tmp/test-keys-small-light`) is shared by several crates'
tests and is built by the first one that needs it; two builders at once could each see the
other's half-written entry. So the binary named by KEYSTORE_BUILDER (it builds the keystore
through `zkfleet keys generate` first thing) runs first, and every binary waits for it except
those of KEYSTORE_FREE, which never open the keystore. Of the binaries that run a whole fleet of
processes (FLEET_BINARIES), at most one runs at a time: memory, not CPU, bounds those.

Input: the JSON messages of `cargo test --no-run --message-format=json...` (a file). Output:
the blocks, then a table of every binary's wall time and exit status. Exit status 101 (as
`cargo test`) when any binary failed, 0 otherwise.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

# Rough wall times (s) of the slowest binaries on the 2-core machine, to start them first
# (longest processing time first). A binary missing here counts as 5 s; a stale figure only
# makes the schedule worse, never the result different.
ESTIMATES = {
    ("zkfleet-cli", "bench"): 230,
    ("zkfleet-circuits", "soundness_recursion"): 200,
    ("zkfleet-cli", "fleet"): 170,
    ("zkfleet-cli", "sequencer"): 145,
    ("zkfleet-circuits", "recursion"): 100,
    ("zkfleet-cli", "outside_provers"): 75,
    ("zkfleet-circuits", "pipeline"): 75,
    ("zkfleet-circuits", "batch"): 60,
    ("zkfleet-compressor", "compressor"): 50,
    ("zkfleet-witness-generator", "pipeline"): 40,
    ("zkfleet-circuit-prover", "prover"): 40,
    ("zkfleet-circuit-prover", "aggregation"): 35,
    ("zkfleet-circuits", "soundness_basic"): 25,
    ("zkfleet-prover-api", "api"): 22,
    ("zkfleet-cli", "final_key"): 16,
    ("zkfleet-circuits", "final_key"): 13,
    ("zkfleet-gpu", "prover"): 12,
    ("zkfleet-dal", "conformance"): 11,
}

# Builds the shared small keystore when it is missing (support/small_keys.rs: `keys_dir()`).
KEYSTORE_BUILDER = ("zkfleet-cli", "final_key")

# Binaries that never open the shared keystore (their circuits are built in the test): they
# may run while it is being built. Any other binary waits for KEYSTORE_BUILDER.
KEYSTORE_FREE = {
    ("zkfleet-circuits", "soundness_recursion"),
    ("zkfleet-circuits", "recursion"),
    ("zkfleet-circuits", "pipeline"),
    ("zkfleet-circuits", "soundness_basic"),
    ("zkfleet-circuits", "basic_circuits"),
}

# End-to-end binaries that run a whole fleet as processes: each `zkfleet` component holds the
# circuits (1.1-1.8 GB resident each with the small keystore), so one of these binaries alone
# takes up to ~12 GB, and two at once were OOM-killed on the 24 GiB machine (a compressor,
# 2026-12-06). At most one of them runs at a time; the other slot takes in-process binaries.
FLEET_BINARIES = {
    ("zkfleet-cli", "bench"),
    ("zkfleet-cli", "fleet"),
    ("zkfleet-cli", "sequencer"),
    ("zkfleet-cli", "outside_provers"),
}


class Binary:
    def __init__(self, message, root):
        target = message["target"]
        self.exe = message["executable"]
        self.manifest = message["manifest_path"]
        self.package_dir = os.path.dirname(self.manifest)
        # "path+file:///…/crates/cli#zkfleet-cli@0.1.0", or "…#0.1.0" when the directory
        # is the package's name.
        spec = message["package_id"].rsplit("#", 1)[-1]
        name, _, version = spec.rpartition("@")
        self.package = name or os.path.basename(self.package_dir)
        self.version = version
        self.target = target["name"]
        self.kind = target["kind"][0]
        src = os.path.relpath(target["src_path"], self.package_dir)
        self.label = (
            f"unittests {src}" if self.kind in ("lib", "bin", "proc-macro") else src
        )
        self.shown_exe = os.path.relpath(self.exe, root)
        self.key = (self.package, self.target if self.kind == "test" else f"{self.kind}:{self.target}")
        self.estimate = ESTIMATES.get(self.key, 5)
        self.status = None
        self.seconds = None
        self.cpu = None

    def environment(self):
        env = dict(os.environ)
        major, minor, patch = (self.version.split("-")[0].split(".") + ["0", "0", "0"])[:3]
        env.update(
            {
                "CARGO_MANIFEST_DIR": self.package_dir,
                "CARGO_MANIFEST_PATH": self.manifest,
                "CARGO_PKG_NAME": self.package,
                "CARGO_PKG_VERSION": self.version,
                "CARGO_PKG_VERSION_MAJOR": major,
                "CARGO_PKG_VERSION_MINOR": minor,
                "CARGO_PKG_VERSION_PATCH": patch,
                "CARGO_CRATE_NAME": self.target.replace("-", "_"),
            }
        )
        return env

    def rerun_hint(self):
        if self.kind == "test":
            return f"-p {self.package} --test {self.target}"
        if self.kind == "bin":
            return f"-p {self.package} --bin {self.target}"
        return f"-p {self.package} --lib"


def load(messages_path, root):
    binaries = []
    seen = set()
    with open(messages_path, encoding="utf-8") as messages:
        for line in messages:
            line = line.strip()
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if message.get("reason") != "compiler-artifact":
                continue
            if not message.get("profile", {}).get("test") or not message.get("executable"):
                continue
            if message["executable"] in seen:
                continue
            seen.add(message["executable"])
            binaries.append(Binary(message, root))
    return binaries


def run(binary, extra_args, lock, done):
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+b") as out:
        child = subprocess.Popen(
            [binary.exe, *extra_args],
            cwd=binary.package_dir,
            env=binary.environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        # wait4: the binary's CPU time, its reaped child processes' (the `zkfleet` components
        # a test starts) included, a figure that another build on the machine does not change
        # as much as the wall time.
        _, wait_status, usage = os.wait4(child.pid, 0)
        status = os.waitstatus_to_exitcode(wait_status)
        child.returncode = status
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    binary.seconds = time.monotonic() - started
    binary.cpu = usage.ru_utime + usage.ru_stime
    binary.status = status
    with lock:
        sys.stdout.write(f"     Running {binary.label} ({binary.shown_exe})\n")
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.write(
            f"     [{binary.package} {binary.key[1]}: {binary.seconds:.1f} s wall, "
            f"{usage.ru_utime:.1f} s user + {usage.ru_stime:.1f} s sys, exit {status}]\n"
        )
        if status != 0:
            sys.stdout.write(
                f"error: test failed, to rerun pass `{binary.rerun_hint()}`\n"
            )
        sys.stdout.write("\n")
        sys.stdout.flush()
        done.notify_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("messages", help="cargo's JSON messages of the --no-run build")
    parser.add_argument("--jobs", type=int, default=2, help="binaries at once")
    parser.add_argument("--root", default=os.getcwd(), help="the workspace root")
    parser.add_argument("args", nargs="*", help="passed to every test binary")
    options = parser.parse_args()

    binaries = load(options.messages, options.root)
    if not binaries:
        print("run-test-binaries: no test binary in the build's messages", file=sys.stderr)
        return 101
    # Longest first; ties keep cargo's order.
    pending = sorted(binaries, key=lambda b: -b.estimate)
    builder = next((b for b in pending if b.key == KEYSTORE_BUILDER), None)
    if builder is not None:
        pending.remove(builder)
        pending.insert(0, builder)

    lock = threading.Lock()
    done = threading.Condition(lock)
    running = []
    started = time.monotonic()

    def may_start(binary):
        if binary.key in FLEET_BINARIES and any(
            other.key in FLEET_BINARIES for other, _ in running
        ):
            return False
        if builder is None or binary is builder or binary.key in KEYSTORE_FREE:
            return True
        return builder.status is not None

    with lock:
        while pending or running:
            running = [(b, t) for b, t in running if b.status is None]
            startable = [b for b in pending if may_start(b)]
            if len(running) < options.jobs and startable:
                binary = startable[0]
                pending.remove(binary)
                thread = threading.Thread(
                    target=run, args=(binary, options.args, lock, done), daemon=True
                )
                thread.start()
                running.append((binary, thread))
                continue
            done.wait(timeout=1.0)

    wall = time.monotonic() - started
    failed = [b for b in binaries if b.status != 0]
    print(f"test binaries: {len(binaries)} run, {len(failed)} failed, {wall:.0f} s wall "
          f"with {options.jobs} at once; summed: {sum(b.seconds for b in binaries):.0f} s wall, "
          f"{sum(b.cpu for b in binaries):.0f} CPU-s")
    for binary in sorted(binaries, key=lambda b: -b.seconds):
        print(f"  {binary.seconds:7.1f} s wall {binary.cpu:7.1f} CPU-s  exit {binary.status:<4} "
              f"{binary.package} {binary.key[1]}")
    for binary in failed:
        print(f"error: test failed, to rerun pass `{binary.rerun_hint()}`", file=sys.stderr)
    return 101 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
