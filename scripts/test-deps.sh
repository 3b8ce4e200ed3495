#!/usr/bin/env bash
# Installs what the test suites need and the machine lacks, from the package registries only:
# Debian's PostgreSQL server binaries, Chromium (status page browser test) and Prometheus (fleet
# test), and moto's S3-compatible server from PyPI. `scripts/test` and `.ci/run` both source it
# and call `test_deps_install`; something already installed is left alone, so a prepared machine
# pays nothing. Installing Debian packages needs root (or sudo without a password); without it
# the function says in one line what to run first and fails.
#
# NVIDIA's run-time compiler (NVRTC, `nvidia-cuda-nvrtc` from PyPI) goes under
# target/test-deps/nvrtc and `test_deps_install` exports LD_LIBRARY_PATH and
# ZKFLEET_REQUIRE_NVRTC=1 for it, so that the GPU crate's kernels are compiled by every test run
# (no GPU needed) and a kernel that does not compile fails the tests.
#
# ZKFLEET_TEST_CHROMIUM / ZKFLEET_TEST_PROMETHEUS may name other binaries (then nothing is
# installed for them); ZKFLEET_TEST_DATABASE_URL / ZKFLEET_TEST_S3_ENDPOINT naming running
# services skip PostgreSQL and moto.

_test_deps_apt() {
  local packages=("$@")
  local sudo=()
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "error: the tests need Debian packages ${packages[*]}; run first: sudo apt-get install -y ${packages[*]}" >&2
      return 1
    fi
  fi
  echo "installing Debian packages: ${packages[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
}

test_deps_install() {
  local apt=()
  if [ -z "${ZKFLEET_TEST_DATABASE_URL:-}" ] \
     && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
     && ! { command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; }; then
    apt+=(postgresql)
  fi
  if [ -z "${ZKFLEET_TEST_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
     && ! command -v chromium-headless-shell >/dev/null 2>&1; then
    apt+=(chromium)
  fi
  if [ -z "${ZKFLEET_TEST_PROMETHEUS:-}" ] && ! command -v prometheus >/dev/null 2>&1; then
    apt+=(prometheus)
  fi
  if [ "${#apt[@]}" -gt 0 ]; then
    _test_deps_apt "${apt[@]}" || return 1
    hash -r
  fi
  local nvrtc=target/test-deps/nvrtc
  if [ ! -e "$nvrtc/nvidia/cu13/lib/libnvrtc.so.13" ]; then
    echo "installing NVIDIA's NVRTC from PyPI (nvidia-cuda-nvrtc==13.0.88) into $nvrtc" >&2
    python3 -m pip install --quiet --no-deps --target "$nvrtc" 'nvidia-cuda-nvrtc==13.0.88' || {
      echo "error: the GPU kernel test needs NVRTC; run first: python3 -m pip install --target $nvrtc 'nvidia-cuda-nvrtc==13.0.88'" >&2
      return 1
    }
  fi
  export LD_LIBRARY_PATH="$PWD/$nvrtc/nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export ZKFLEET_REQUIRE_NVRTC=1
  if [ -z "${ZKFLEET_TEST_S3_ENDPOINT:-}" ] && ! command -v moto_server >/dev/null 2>&1; then
    echo "installing moto's S3 server from PyPI (moto[server]==5.2.1)" >&2
    python3 -m pip install --quiet 'moto[server]==5.2.1' || {
      echo "error: the tests need moto's S3 server; run first: python3 -m pip install 'moto[server]==5.2.1'" >&2
      return 1
    }
    hash -r
  fi
}
