#!/bin/sh
# The Debian/Ubuntu packages this project needs besides make and git, in one
# place for the Makefile and CI.
#
#   system-packages.sh check [display]    name what is missing; exit 1 if anything is
#   system-packages.sh ensure [display]   install what is missing when we can
#                                          (root or passwordless sudo, and apt-get);
#                                          otherwise print the exact apt-get line, exit 1
#
# "display" adds what Qt's xcb platform plugin needs on a real X11 display
# (make run). Detection looks at files, not at dpkg, so it also works where the
# libraries came from elsewhere. Overridable for tests: PYTHON, INCLUDE_DIRS
# (where gmp.h may be), FONT_DIRS (where the colour emoji font may be), and
# APT_DRY_RUN=1 (say what would be run, run nothing).
set -eu

mode=${1:-check}
set_name=${2:-base}
PYTHON=${PYTHON:-python3}
INCLUDE_DIRS=${INCLUDE_DIRS:-"/usr/include /usr/include/*"}
FONT_DIRS=${FONT_DIRS:-"/usr/share/fonts /usr/local/share/fonts"}

missing=""
add() { missing="$missing $1"; }

have_lib() {  # the dynamic linker knows a library of this soname
  ldconfig -p 2>/dev/null | grep -q "$1"
}

check_base() {
  if command -v "$PYTHON" >/dev/null 2>&1 &&
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || add python3-venv
    "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null ||
      add python3-dev
  else
    add python3
    add python3-venv
    add python3-dev
  fi
  command -v gcc >/dev/null 2>&1 || add gcc
  # The notification tests run a private session bus (tests/ui/test_notify_dbus.py).
  command -v dbus-daemon >/dev/null 2>&1 || add dbus
  found=""
  for dir in $INCLUDE_DIRS; do
    [ -f "$dir/gmp.h" ] && found=1
  done
  [ -n "$found" ] || add libgmp-dev
  for lib in libEGL.so.1:libegl1 libGL.so.1:libgl1 libxkbcommon.so.0:libxkbcommon0 \
    libfontconfig.so.1:libfontconfig1 libxcb-cursor.so.0:libxcb-cursor0 \
    libdbus-1.so.3:libdbus-1-3 libglib-2.0.so.0:libglib2.0-0; do
    have_lib "${lib%%:*}" || add "${lib##*:}"
  done
  # Emoji in posts and the reaction menu; `make dist` bundles this font.
  font=""
  for dir in $FONT_DIRS; do
    [ -d "$dir" ] && [ -n "$(find "$dir" -name 'NotoColorEmoji*.ttf' 2>/dev/null | head -n 1)" ] && font=1
  done
  [ -n "$font" ] || add fonts-noto-color-emoji
}

check_display() {
  for lib in libxcb-icccm.so.4:libxcb-icccm4 libxcb-image.so.0:libxcb-image0 \
    libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-randr.so.0:libxcb-randr0 \
    libxcb-render-util.so.0:libxcb-render-util0 libxcb-shape.so.0:libxcb-shape0 \
    libxcb-xinerama.so.0:libxcb-xinerama0 libxcb-xkb.so.1:libxcb-xkb1 \
    libxkbcommon-x11.so.0:libxkbcommon-x11-0; do
    have_lib "${lib%%:*}" || add "${lib##*:}"
  done
}

check_base
[ "$set_name" = display ] && check_display
missing=${missing# }

if [ -z "$missing" ]; then
  exit 0
fi

if [ "$mode" = check ]; then
  echo "Missing system packages: $missing"
  echo "On Debian/Ubuntu: sudo apt-get install $missing"
  exit 1
fi

# ensure: who may install?
as=""
if [ "$(id -u)" = 0 ]; then
  as="root"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as="sudo"
fi
if [ -z "$as" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing system packages: $missing"
  if command -v apt-get >/dev/null 2>&1; then
    echo "Install them (needs root), then run make again:"
  else
    echo "This is not a Debian/Ubuntu system (no apt-get): install the equivalents of:"
  fi
  echo "  sudo apt-get install $missing"
  exit 1
fi

prefix=""
[ "$as" = sudo ] && prefix="sudo -n "
echo "Installing missing system packages: $missing"
run() {
  echo "+ $*"
  [ "${APT_DRY_RUN:-}" = 1 ] || "$@"
}
# shellcheck disable=SC2086 # $prefix and $missing are word lists on purpose
run ${prefix}apt-get update
# shellcheck disable=SC2086
run ${prefix}env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
[ "${APT_DRY_RUN:-}" = 1 ] && exit 0
# Whatever apt could not provide still shows up here.
exec "$0" check "$set_name"
