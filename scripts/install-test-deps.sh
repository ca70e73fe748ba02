#!/bin/sh
# Test-only system packages: Debian's `prometheus` (the `prometheus` server and
# `promtool`) for tests/integration/test_prometheus.py. Called by `make test`.
#
# Installs only when both are missing, we are root and apt-get exists; in every
# other case it says why and exits 0, so the build never fails here: the
# Prometheus tests then skip with a message naming this script.
set -u

have() { command -v "$1" >/dev/null 2>&1; }

if have prometheus && have promtool; then
    echo "install-test-deps: prometheus and promtool are installed"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-test-deps: not root; the Prometheus tests will skip (as root: apt-get install prometheus)"
    exit 0
fi
if ! have apt-get; then
    echo "install-test-deps: no apt-get; the Prometheus tests will skip (install Prometheus 2.x so that prometheus and promtool are on PATH)"
    exit 0
fi

# The package's maintainer script would start a prometheus daemon on :9090
# through invoke-rc.d; the tests start their own. Forbid service starts for the
# duration of the install, unless a policy already decides.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
cleanup() { [ -n "$made_policy" ] && rm -f "$policy"; }
trap cleanup EXIT INT TERM

echo "install-test-deps: installing Debian's prometheus (prometheus, promtool)"
if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; then
    echo "install-test-deps: installed $(prometheus --version 2>&1 | head -n 1)"
else
    echo "install-test-deps: apt-get failed; the Prometheus tests will skip"
fi
exit 0
