#!/bin/sh
# Install this p2pcommunity bundle for the current user (or PREFIX), with its
# menu entry and icons:
#
#   ./install.sh              # into ~/.local: lib/p2pcommunity, bin/, share/
#   PREFIX=/usr/local sudo -E ./install.sh
#   ./install.sh --uninstall
#
# Run it from the unpacked bundle folder (the one holding p2pcommunity and
# p2pcommunity-node). Your data dir is never touched.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
app_id=io.github.p2pcommunity.P2PCommunity
lib=$prefix/lib/p2pcommunity

uninstall() {
  rm -f "$prefix/bin/p2pcommunity" "$prefix/bin/p2pcommunity-node" \
    "$prefix/share/applications/$app_id.desktop" "$prefix/share/metainfo/$app_id.metainfo.xml"
  find "$prefix/share/icons/hicolor" -name "$app_id.*" -delete 2>/dev/null || true
  rm -rf "$lib"
}

if [ "${1:-}" = "--uninstall" ]; then
  uninstall
  echo "removed p2pcommunity from $prefix"
  exit 0
fi

[ -x "$here/p2pcommunity" ] && [ -x "$here/p2pcommunity-node" ] || {
  echo "run this from the unpacked bundle folder" >&2
  exit 1
}
if [ "$here" != "$lib" ]; then
  rm -rf "$lib"
  mkdir -p "$prefix/lib"
  cp -a "$here" "$lib"
fi
mkdir -p "$prefix/bin" "$prefix/share/applications" "$prefix/share/metainfo"
ln -sf "$lib/p2pcommunity" "$prefix/bin/p2pcommunity"
ln -sf "$lib/p2pcommunity-node" "$prefix/bin/p2pcommunity-node"
sed "s|^Exec=p2pcommunity|Exec=$prefix/bin/p2pcommunity|; s|^TryExec=p2pcommunity|TryExec=$prefix/bin/p2pcommunity|" \
  "$here/share/applications/$app_id.desktop" >"$prefix/share/applications/$app_id.desktop"
cp "$here/share/metainfo/$app_id.metainfo.xml" "$prefix/share/metainfo/"
cp -R "$here/share/icons" "$prefix/share/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$prefix/share/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" || true
echo "installed p2pcommunity into $prefix ($("$lib/p2pcommunity-node" --version))"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: $prefix/bin is not on your PATH" ;; esac
