#!/usr/bin/env bash
# A newcomer's install: build the wheel, install it WITHOUT extras in a fresh venv, and use the CLI as
# the README's first steps do. Fails (exit 1) on any traceback, any unexpected exit code, or a command
# that needs an extra and does not say in one line which `pip install` brings it.
#   bash .ci/smoke.sh            # PYTHON=python3.11 to choose the interpreter
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d /tmp/mlfp-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m venv "$work/venv" || { echo "smoke: cannot create a venv with $PYTHON" >&2; exit 1; }
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check)
if ! { "${pip[@]}" wheel --no-deps -q . -w "$work/dist" && "${pip[@]}" install -q "$work"/dist/mlfootprint-*.whl; } \
    >"$work/pip.log" 2>&1; then
  grep -v "is ignored" "$work/pip.log" | tail -20 >&2
  echo "smoke: building or installing the wheel failed" >&2
  exit 1
fi
echo "smoke: installed $(basename "$work"/dist/mlfootprint-*.whl) without extras:" \
     "$("${pip[@]}" list --format=freeze 2>/dev/null | grep -v '^\(pip\|setuptools\)=' | tr '\n' ' ')"

M="$work/venv/bin/mlfootprint"
PY="$work/venv/bin/python"
export MLFOOTPRINT_STORE="$work/runs.db" COLUMNS=100
unset MLFOOTPRINT_OUTPUTS MLFOOTPRINT_COUNTRY MLFOOTPRINT_REGION
cd "$work"
failed=0 n=0

# check RC [one-line] -- COMMAND...: the command exits RC, prints no traceback; with one-line, stderr is
# exactly one line naming a `pip install`
check() {
  local want=$1 one=""
  shift
  [ "$1" = one-line ] && { one=1; shift; }
  [ "$1" = -- ] && shift
  n=$((n + 1))
  "$@" >"$work/out" 2>"$work/err"
  local rc=$? why=""
  [ "$rc" = "$want" ] || why="exit $rc, expected $want"
  grep -q "Traceback (most recent call last)" "$work/out" "$work/err" && why="${why:+$why; }a traceback"
  if [ -n "$one" ] && { [ "$(grep -c . "$work/err")" != 1 ] || ! grep -q "pip install 'mlfootprint\[" "$work/err"; }; then
    why="${why:+$why; }stderr is not one line with a pip install"
  fi
  if [ -n "$why" ]; then
    failed=$((failed + 1))
    echo "FAIL: mlfootprint ${*:2} ($why)"
    tail -n 15 "$work/out" "$work/err" | sed 's/^/    /'
  else
    echo "ok:   ${*/#$M/mlfootprint}" | cut -c1-150
  fi
}

check 0 -- "$M" --version
check 0 -- "$M" --help
check 0 -- "$M" track --country FR -- "$PY" -c "print('hello from the tracked command')"
grep -q "hello from the tracked command" "$work/out" || { failed=$((failed + 1)); echo "FAIL: track did not stream the command's output"; }
check 0 -- "$M" track -q --project smoke -- "$PY" -c "import time; t = time.time()
while time.time() - t < 1: pass"
run=$(tail -n 1 "$work/err")
check 3 -- "$M" track -q -- "$PY" -c "import sys; sys.exit(3)"
check 0 -- "$M" runs
grep -q "$run" "$work/out" || { failed=$((failed + 1)); echo "FAIL: runs does not list run $run"; }
check 0 -- "$M" show "$run"
check 0 -- "$M" show "$run" --details
check 0 -- "$M" show "$run" --json
"$PY" -c "import json, sys; assert json.load(open(sys.argv[1]))['id'] == sys.argv[2]" "$work/out" "$run" \
  || { failed=$((failed + 1)); echo "FAIL: show --json is not the run's JSON record"; }
check 0 -- "$M" export --format csv -o runs.csv
check 0 -- "$M" export --format json -o runs.json
check 0 -- "$M" export --format codecarbon -o emissions.csv
check 0 -- "$M" statement "$run"
check 2 one-line -- "$M" report "$run" -o report.html
check 0 -- "$M" track --outputs html:out.html,json:out.json -- "$PY" -c "print('still runs')"
grep -q "pip install 'mlfootprint\[plots\]'" "$work/err" && [ -f out.json ] && [ ! -f out.html ] \
  || { failed=$((failed + 1)); echo "FAIL: --outputs html: without the plots extra did not warn, or stopped the run"; }
check 0 -- "$M" doctor
check 0 -- "$M" estimate --params 7e9 --tokens 2e12 --hardware h100-sxm --count 64 --country FR
check 0 -- "$M" estimate --params 7e9 --tokens 2e12 --hardware h100-sxm --json
check 2 one-line -- "$M" estimate --params 1e8:1e10 --tokens 20x --hardware h100-sxm
check 0 -- "$M" hardware
check 0 -- "$M" locations france
"$PY" - <<'EOF'
from datetime import datetime, timedelta, timezone
start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
with open("forecast.csv", "w") as f:
    f.write("time,intensity_g_per_kwh\n")
    for h in range(48):
        f.write(f"{(start + timedelta(hours=h)).isoformat()},{300 + 100 * ((h % 24) < 8)}\n")
EOF
check 0 -- "$M" when --duration 2h --within 24h --csv forecast.csv --energy-kwh 10
check 0 -- "$M" where --energy-kwh 100 --candidates FR,DE,PL --here DE
check 2 one-line -- "$M" dashboard
check 2 one-line -- "$M" serve --metrics-url http://127.0.0.1:9/metrics --requests-counter requests_total -- "$PY" -c "print(1)"
check 2 one-line -- "$M" runs --store postgresql+psycopg://user@127.0.0.1:9/db
check 2 -- "$M" show no-such-run
check 2 -- "$M" track --country Germany -- true

echo "smoke: $((n - failed)) passed, $failed failed (core install, no extras)"
[ "$failed" = 0 ]
