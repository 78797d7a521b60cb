#!/usr/bin/env bash
# Screenshots for docs/gimp.md, taken from real GIMP 3 (the trixie chroot of install/editors/gimp-chroot.sh) on a
# virtual screen (Xvfb): the Chromaseg submenu, the Colorize layer dialog, the preview image, and the photo before
# and after "Colorize layer".
#
#   docs/tools/gimp_screenshots.sh   (as root; writes docs/images/gimp-{menu,dialog,preview,before-after}.png)
#
# The daemon runs on the host with the shipped colorizer weights, on loopback TCP; the plug-in is installed with
# `chromaseg install-plugin gimp --dest` into a GIMP config folder of this run's own (GIMP3_DIRECTORY), so neither the
# chroot's own config nor another checkout's install is touched. GIMP's GUI runs docs/tools/gimp_screenshots_driver.py
# as its batch script (python-fu-eval): it runs the procedures through the PDB and captures each window; the menu is
# opened with the keyboard and windows are found by name, so no screen position is hard-coded.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=${PY:-$REPO/.venv/bin/python}
CHROOT=$(install/editors/gimp-chroot.sh path)
WORK=/tmp/chromaseg-shots
PLUGINS=$CHROOT$WORK/gimp-config/plug-ins
PORT=${CHROMASEG_SHOTS_PORT:-47391}
WINDOW_SIZE=${CHROMASEG_SHOTS_WINDOW:-"900 780"}   # GIMP's window, width height

install/editors/gimp-chroot.sh build
rm -rf "$CHROOT$WORK" && mkdir -p "$CHROOT$WORK"
# the chroot's own settings (window layout, no welcome dialog) without its plug-ins, then ours
cp -a "$CHROOT/root/.config/GIMP/3.0" "$CHROOT$WORK/gimp-config"
rm -rf "$PLUGINS" && mkdir -p "$PLUGINS"
"$PY" -m chromaseg.cli.main install-plugin gimp --dest "$PLUGINS" >/dev/null
cp docs/tools/gimp_screenshots_driver.py "$CHROOT$WORK/driver.py"
echo "$WINDOW_SIZE" > "$CHROOT$WORK/window-size"
"$PY" -m chromaseg.cli.serve --endpoint "tcp://127.0.0.1:$PORT" --log-file "$CHROOT$WORK/daemon.log" \
    --ready-file "$CHROOT$WORK/ready" &
DAEMON=$!
cleanup() {
    kill "$DAEMON" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 600); do [ -e "$CHROOT$WORK/ready" ] && break; sleep 0.1; done
"$PY" - "$CHROOT$WORK/photo.png" <<'PYEOF'
import sys
from PIL import Image
from importlib.resources import files
photo = Image.open(files("chromaseg.core.assets") / "sample.jpg").convert("L")
photo.thumbnail((480, 480))
photo.convert("RGB").save(sys.argv[1])
PYEOF

cat > "$CHROOT$WORK/inside.sh" <<'INNER'
# Runs inside the chroot: GIMP's GUI on Xvfb with the driver as its batch script, until the driver is done.
set -u
W=/tmp/chromaseg-shots
Xvfb -displayfd 3 -screen 0 1280x900x24 -br -nolisten tcp 3>"$W/display" >"$W/xvfb.log" 2>&1 &
XVFB=$!                                       # -displayfd: a free display (other sessions may run their own)
for _ in $(seq 100); do [ -s "$W/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$W/display")"
GIMP3_DIRECTORY="$W/gimp-config" gimp-3.0 -s --batch-interpreter=python-fu-eval \
    -b "import sys; sys.path.insert(0, '$W'); import driver; driver.main('$W')" "$W/photo.png" >"$W/gimp.log" 2>&1 &
GIMP=$!
for _ in $(seq 1200); do [ -e "$W/done" ] && break; sleep 0.5; done
kill "$GIMP"; sleep 2; kill -9 "$GIMP" 2>/dev/null
kill "$XVFB"
INNER
install/editors/gimp-chroot.sh run env CHROMASEG_ENDPOINT="tcp://127.0.0.1:$PORT" bash "$WORK/inside.sh"
if [ -e "$CHROOT$WORK/error.txt" ]; then cat "$CHROOT$WORK/error.txt" >&2; exit 1; fi
# before | after side by side; the screenshots with a photo in them in at most 256 colors (a few hundred KB each)
install/editors/gimp-chroot.sh run convert "$WORK/before.png" "$WORK/after.png" +append -colors 256 \
    "$WORK/before-after.png"
for shot in menu preview; do
    install/editors/gimp-chroot.sh run convert "$WORK/$shot.png" -colors 256 "$WORK/$shot-256.png"
done
cp "$CHROOT$WORK/before-after.png" docs/images/gimp-before-after.png
cp "$CHROOT$WORK/menu-256.png" docs/images/gimp-menu.png
cp "$CHROOT$WORK/dialog.png" docs/images/gimp-dialog.png
cp "$CHROOT$WORK/preview-256.png" docs/images/gimp-preview.png
echo "wrote docs/images/gimp-menu.png, gimp-dialog.png, gimp-preview.png, gimp-before-after.png"
