#!/usr/bin/env bash
# The bundled app under Xvfb on a fresh data dir: screenshot its first-run
# window, then (with xdotool) enter a name, check that the app started the
# BUNDLED node, screenshot the welcome page, and stop everything by pid.
#
#   xvfb-run -a -s "-screen 0 1280x800x24" packaging/xvfb_first_run.sh \
#       docs/screenshots/bundle-first-run.png [welcome.png]
#
# Needs dist/p2pcommunity (make dist), the venv (for the screen grab) and,
# for the second half, xdotool.
set -euo pipefail
cd "$(dirname "$0")/.."
first=${1:?usage: xvfb_first_run.sh FIRST_RUN.png [WELCOME.png]}
welcome=${2:-}
bundle=dist/p2pcommunity
data=$(mktemp -d /tmp/p2pc-bundle-XXXXXX)
app_pid=""

node_pids() {  # processes of the bundled node on our data dir
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "p2pcommunity-node --data-dir $data " && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill "$app_pid"
    for _ in $(seq 100); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$app_pid" 2>/dev/null && kill -9 "$app_pid"
  fi
  for pid in $(node_pids); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$data" "$data.app.log"
}
trap cleanup EXIT

QT_QPA_PLATFORM=xcb "$bundle/p2pcommunity" --data-dir "$data" --color-scheme light \
  >"$data.app.log" 2>&1 &
app_pid=$!
for _ in $(seq 150); do
  if command -v xdotool >/dev/null; then
    xdotool search --name p2pcommunity >/dev/null 2>&1 && break
  fi
  sleep 0.1
done
sleep 2  # let it paint
.venv/bin/python packaging/grab_screen.py "$first"
kill -0 "$app_pid" || { echo "the app died:"; cat "$data.app.log"; exit 1; }

[ -n "$welcome" ] || exit 0
command -v xdotool >/dev/null || { echo "no xdotool: skipping the name step"; exit 0; }
xdotool search --name p2pcommunity windowactivate --sync 2>/dev/null || true
xdotool type --delay 30 "Alice"
xdotool key Return
for _ in $(seq 300); do [ -f "$data/identity.key" ] && [ -n "$(node_pids)" ] && break; sleep 0.1; done
pids=$(node_pids)
[ -n "$pids" ] || { echo "no bundled node started; app log:"; cat "$data.app.log"; cat "$data/node.log" 2>/dev/null; exit 1; }
echo "bundled node running: pid $pids ($(readlink "/proc/${pids%% *}/exe"))"
sleep 3
.venv/bin/python packaging/grab_screen.py "$welcome"
