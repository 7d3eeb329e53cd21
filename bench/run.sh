#!/usr/bin/env bash
# Runs forgeproof's comparative benchmarks and writes BENCHMARKS.md.
#
#   bench/run.sh           the full run (about 35 minutes on 2 cores);
#                          rewrites ../BENCHMARKS.md
#   bench/run.sh --smoke   a few seconds of everything, to prove the harness
#                          works (CI runs this); leaves the repository alone
#
# It installs nginx and Caddy from the distribution's packages when they are
# missing (Debian: nginx-light, caddy; needs root), builds forgeproof from
# this working tree, the bare Go proxy and the upstream, then runs:
#   1. the csrf middleware micro-benchmarks and the gateway's in-process
#      cost (go test -bench, repeated for benchstat), summarised by
#      benchstat and by benchtab (ratios, targets);
#   2. benchrun: forgeproof serve, the bare Go proxies, nginx (plain,
#      forwarding the client's certificate upstream as nginx-cert, and
#      asking forgeproof authz as nginx-authz) and Caddy on loopback, in
#      alternation, over HTTP/1.1 and (keep-alive) HTTP/2; then, for the
#      targets, forgeproof and each server a target compares it with in
#      back-to-back pairs.
# Environment: BENCH_COUNT, BENCH_BENCHTIME, BENCH_ROUNDS, BENCH_PAIRS, BENCH_DURATION,
# BENCH_WARMUP, BENCH_SERVERS override the full run's settings.
set -euo pipefail
cd "$(dirname "$0")"

mode=full
case "${1:-}" in
  "") ;;
  --smoke) mode=smoke ;;
  *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac

# benchstat, pinned (golang.org/x/perf has no tagged releases).
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

log() { echo "== bench: $*" >&2; }

install_servers() {
  command -v nginx >/dev/null && command -v caddy >/dev/null && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "nginx or caddy missing and cannot install them here (needs root and apt-get)"
    return 0
  fi
  log "installing nginx-light and caddy from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq nginx-light caddy >/dev/null
}

# The bench module follows the main module through a replace directive:
# let its go.mod and go.sum pick up a dependency the main module gained
# since they were last tidied, instead of failing the build. (Only inside
# bench/; the main module is built as it is.)
main_goflags=${GOFLAGS:-}
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"

work=$(mktemp -d "${TMPDIR:-/tmp}/forgeproof-bench-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

install_servers

log "building"
mkdir -p "$work/bin"
go build -o "$work/bin/" ./cmd/upstream ./cmd/goproxy ./cmd/fpgateway ./cmd/benchrun ./cmd/benchtab ./cmd/authzload
(cd .. && GOFLAGS="$main_goflags" go build -o "$work/bin/forgeproof" ./cmd/forgeproof)

if [ "$mode" = smoke ]; then
  log "harness tests"
  go vet ./...
  go test -short -count=1 ./...
  count=1; benchtime=200x
  servers=${BENCH_SERVERS:-forgeproof-workers,forgeproof,forgeproof-api,goproxy,goproxy-pool,goloop,goloop-rp,nginx,nginx-cert,nginx-authz,caddy}
  runflags=(-smoke -strict)
else
  count=${BENCH_COUNT:-10}; benchtime=${BENCH_BENCHTIME:-500ms}
  servers=${BENCH_SERVERS:-forgeproof-workers,forgeproof,goproxy,goproxy-pool,goloop,goloop-rp,nginx,nginx-cert,nginx-authz,caddy}
  runflags=(-rounds "${BENCH_ROUNDS:-5}" -pairs "${BENCH_PAIRS:-8}" -duration "${BENCH_DURATION:-5s}" -warmup "${BENCH_WARMUP:-1s}")
fi

log "middleware micro-benchmarks (-count $count)"
loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)
# One process per repetition, so that the libraries alternate (A B C A B C
# …) and drift on a shared machine hits them alike; benchstat reads the
# concatenated output as -count would give it.
for pkg in csrfbench gatewaybench; do
  go test -c -o "$work/$pkg.test" "./$pkg"
done
: > "$work/micro.txt"
for _ in $(seq "$count"); do
  for pkg in csrfbench gatewaybench; do
    (cd "$pkg" && "$work/$pkg.test" -test.run '^$' -test.bench . -test.benchmem \
      -test.benchtime "$benchtime" -test.count 1) >> "$work/micro.txt"
  done
done
# One benchstat table per group, so that each compares the same libraries.
{
  for group in Origin OriginCheck Token Proxy; do
    echo "### $group"
    go run "$BENCHSTAT" -filter ".name:/^$group\$/" -col /lib "$work/micro.txt"
    echo
  done
} > "$work/benchstat.txt"
"$work/bin/benchtab" "$work/micro.txt" > "$work/micro.md"
loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)

log "gateways ($servers)"
"$work/bin/benchrun" -bin "$work/bin" -servers "$servers" "${runflags[@]}" \
  -out "$work/gateways.md" -json "$work/gateways.json"

log "forgeproof authz per transport"
if [ "$mode" = smoke ]; then
  "$work/bin/authzload" -bin "$work/bin" -rounds 1 -duration 300ms -conns 4 > "$work/authz.md"
else
  "$work/bin/authzload" -bin "$work/bin" -rounds "${BENCH_ROUNDS:-5}" -duration "${BENCH_DURATION:-5s}" > "$work/authz.md"
fi

if [ "$mode" = smoke ]; then
  for f in micro.txt benchstat.txt micro.md gateways.md gateways.json authz.md; do
    [ -s "$work/$f" ] || { log "smoke: $f is empty"; exit 1; }
  done
  cat "$work/micro.md" "$work/gateways.md" "$work/authz.md"
  log "smoke run passed"
  exit 0
fi

# The file is truncated as this block starts, so the check for uncommitted
# changes below leaves out the files this script writes.
out=../BENCHMARKS.md
{
  cat <<HEADER
# forgeproof benchmarks

forgeproof side by side with what a user would pick instead, measured in one
run on one machine. Reproduce with one command from a clone:

\`\`\`sh
bench/run.sh
\`\`\`

It installs nginx and Caddy from Debian's packages when missing, builds
forgeproof from the working tree, and rewrites this file. \`bench/run.sh
--smoke\` runs everything for a few seconds (CI does, so the harness cannot
rot). The harness is described in [docs/performance.md](docs/performance.md) and in
\`go doc\` of \`bench/load\`, \`bench/csrfbench\` and \`bench/cmd/benchrun\`.

- Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/run.sh\` with
  BENCH_COUNT=$count, BENCH_ROUNDS=${BENCH_ROUNDS:-5}, BENCH_PAIRS=${BENCH_PAIRS:-8},
  BENCH_DURATION=${BENCH_DURATION:-5s}, BENCH_WARMUP=${BENCH_WARMUP:-1s}.
- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),
  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),
  Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME").
- Go: $(go version | cut -d' ' -f3-).
- forgeproof: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git update-index -q --refresh 2>/dev/null; git diff --quiet HEAD -- .. ':!../BENCHMARKS.md' ':!last-run.json' 2>/dev/null || echo ', with uncommitted changes in the working tree').
- Peers: filippo.io/csrf, gorilla/csrf, nosurf at the versions in
  bench/go.mod ($(grep -E 'filippo.io/csrf |gorilla/csrf |justinas/nosurf ' go.mod | awk '{printf "%s %s; ", $1, $2}' | sed 's/; $//')).

HEADER
  cat <<'HOWTO'
## How to read these numbers

- Every process of the comparison (servers, upstream, load generator, the
  benchmark binary) shares the machine's cores, and so did other work on
  the machine during the run (see the load averages given with each part).
  Absolute numbers are therefore low and noisy; compare the ratios, which
  come from runs interleaved with each other, and prefer "server CPU per
  request" for the gateways: it counts what the server itself spent
  (`/proc/PID/stat`) and moves much less with other load than requests/s.
- The load generator speaks HTTP/1.1 over TLS 1.3 with X25519 to every
  server (Go servers would otherwise pick the post-quantum hybrid, which
  OpenSSL 3.0 in nginx lacks); the HTTP/2 table is the same load as
  HTTP/2 streams, 8 to a connection, sent by Go's HTTP/2 client (which
  costs the loader more CPU than its HTTP/1.1 writer: compare the servers'
  CPU per request more than requests/s across the two tables).
  Certificates are ECDSA P-256, minted by the `pki` package for each run.
- The gateways forward `GET /`: no CSRF decision is needed on a safe
  method, so the comparison with nginx and Caddy (which do no CSRF checks)
  is like for like. forgeproof still routes, authorizes the client's common
  name and forwards its identity (RFC 9440 headers) on every request, which
  the others do not. Its access log is off (log level warn), as nginx's
  is; metrics are kept.
- The micro-benchmarks report two times per operation: ns/op, the wall
  clock, and CPU ns/op, the benchmark process's CPU time (getrusage, every
  thread). On two cores the garbage collector's workers run on the core
  the benchmark leaves idle, so the wall clock leaves out most of what a
  library's allocations cost, and on a busy machine it counts waiting for
  a core; CPU time counts the first and not the second. A server spends
  CPU time, not wall time: where the two ratios differ, the CPU one is
  the cost a service pays.

The profiling history (what the profiles showed and the changes made since,
with before/after numbers) is in [bench/NOTES.md](bench/NOTES.md).

HOWTO
  cat <<MICRO
## 1. CSRF middleware and the gateway's own cost (go test -bench)

Groups Origin, OriginCheck and Token are bench/csrfbench (the CSRF
middleware libraries); group Proxy is bench/gatewaybench (one request
through forgeproof's gateway handler, in process, against the bare
\`httputil.ReverseProxy\`, same loopback upstream, no TLS). The test
binaries of both run $count times in alternation, each
\`-test.run '^\$' -test.bench . -test.benchmem -test.benchtime $benchtime
-test.count 1\` (the same as \`go test -bench . -benchmem -count $count\`, but
with the libraries interleaved). Load average during this part: $loadavg_before before,
$loadavg_after after. Medians of $count runs; "time ÷ forgeproof's" and
"CPU ÷ forgeproof's" above 1 mean forgeproof is faster. The targets judge
the median of the $count per-run ratios (the two libraries of a run are
measured a second or so apart in one process), not the ratio of the
medians.

MICRO
  cat "$work/micro.md"
  printf '\nbenchstat (`go run %s -col /lib`), the same data with confidence intervals:\n\n```\n' "$BENCHSTAT"
  cat "$work/benchstat.txt"
  printf '```\n\n## 2. Gateways (bench/cmd/benchrun)\n\n'
  cat "$work/gateways.md"
  cat <<AUTHZ

## 3. forgeproof authz: one question per transport (bench/cmd/authzload)

\`forgeproof authz\` alone, asked the same allowed same-origin POST with a
client certificate over loopback: the HTTP question nginx, Caddy and
Traefik send (Caddy's form, keep-alive connections) and Envoy's ext_authz
gRPC \`Check\` (one HTTP/2 connection). Server CPU is the forgeproof
process's; the decision itself is about 30 µs of it (BenchmarkDecision in
authz/envoy).

AUTHZ
  cat "$work/authz.md"
} > "$out"
cp "$work/gateways.json" ../bench/last-run.json 2>/dev/null || true
log "wrote BENCHMARKS.md"
