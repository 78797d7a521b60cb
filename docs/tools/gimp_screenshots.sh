#!/usr/bin/env bash
# Screenshots for docs/gimp.md, taken from real GIMP 3 (the trixie chroot of install/editors/gimp-chroot.sh) on a
# virtual screen (Xvfb): the menu, the Colorize dialog, and the image before and after "Colorize layer".
#
#   docs/tools/gimp_screenshots.sh        (as root; writes docs/images/gimp-{menu,dialog,before-after}.png)
#
# The daemon runs on the host with the shipped colorizer weights, on loopback TCP; the plug-in is installed with
# `chromaseg install-plugin gimp --dest` into a GIMP config folder of this run's own (GIMP3_DIRECTORY), so neither the
# chroot's own config nor another checkout's install is touched. Menu positions are clicked with
# xdotool at the coordinates GIMP 3.0.4's default layout has on a 1280x800 screen.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=${PY:-$REPO/.venv/bin/python}
CHROOT=$(install/editors/gimp-chroot.sh path)
WORK=/tmp/chromaseg-shots
PLUGINS=$CHROOT$WORK/gimp-config/plug-ins
PORT=${CHROMASEG_SHOTS_PORT:-47391}

install/editors/gimp-chroot.sh build
rm -rf "$CHROOT$WORK" && mkdir -p "$CHROOT$WORK"
# the chroot's own settings (window layout, no welcome dialog) without its plug-ins, then ours
cp -a "$CHROOT/root/.config/GIMP/3.0" "$CHROOT$WORK/gimp-config"
rm -rf "$PLUGINS" && mkdir -p "$PLUGINS"
"$PY" -m chromaseg.cli.main install-plugin gimp --dest "$PLUGINS" >/dev/null
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
# Runs inside the chroot: GIMP on Xvfb, driven with xdotool, captured with ImageMagick's import.
set -u
W=/tmp/chromaseg-shots
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$W/display" >"$W/xvfb.log" 2>&1 &
XVFB=$!                                       # -displayfd: a free display (other sessions may run their own)
for _ in $(seq 100); do [ -s "$W/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$W/display")"
GIMP3_DIRECTORY="$W/gimp-config" gimp-3.0 -s "$W/photo.png" >"$W/gimp.log" 2>&1 &
GIMP=$!
for _ in $(seq 120); do xdotool search --name "photo" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 8                                       # plug-in queries and the first redraw
shot() { import -window root -crop "$2+0+0" +repage "$W/$1.png"; }
shot before 875x628
xdotool mousemove 426 12 click 1; sleep 1.5   # Filters
xdotool mousemove 460 490; sleep 1.5          # Colors
xdotool mousemove 700 490; sleep 1.5          # Chromaseg
shot menu 1040x628
xdotool mousemove 860 540 click 1             # Colorize layer...
for _ in $(seq 60); do DIALOG=$(xdotool search --name "^Colorize layer" 2>/dev/null | head -1); [ -n "$DIALOG" ] && break; sleep 0.5; done
sleep 3
import -window "$DIALOG" "$W/dialog.png"
eval "$(xdotool getwindowgeometry --shell "$DIALOG")"  # WIDTH, HEIGHT: OK sits in the bottom-right corner
xdotool mousemove --window "$DIALOG" $((WIDTH - 68)) $((HEIGHT - 42)) click 1   # OK (no window manager: no focus)
for _ in $(seq 600); do xdotool search --name "2 layers" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 3
xdotool mousemove 1200 750                    # the brush outline off the canvas
shot after 875x628
kill "$GIMP"; sleep 2; kill -9 "$GIMP" 2>/dev/null
kill "$XVFB"
INNER
install/editors/gimp-chroot.sh run env CHROMASEG_ENDPOINT="tcp://127.0.0.1:$PORT" bash "$WORK/inside.sh"
install/editors/gimp-chroot.sh run convert "$WORK/before.png" "$WORK/after.png" +append "$WORK/before-after.png"
cp "$CHROOT$WORK/before-after.png" docs/images/gimp-before-after.png
cp "$CHROOT$WORK/menu.png" docs/images/gimp-menu.png
cp "$CHROOT$WORK/dialog.png" docs/images/gimp-dialog.png
echo "wrote docs/images/gimp-menu.png, gimp-dialog.png, gimp-before-after.png"
