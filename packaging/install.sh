#!/usr/bin/env bash
# `make install`: Colony for every user of the machine (issue 14).
#
#   - the groups `colony` (may use Colony: the API socket is root:colony 0660) and
#     `colony-admin` (may act on every colony);
#   - a virtualenv in $PREFIX on Debian's own python3, so every user can run it (a Python
#     under root's home, e.g. pyenv's, is not executable by others), with `colony` linked
#     into $BINDIR;
#   - where systemd runs, the unit mycelium.service, enabled and started.
#
# Idempotent: run again after pulling to upgrade. `make uninstall` removes it again.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/colony}
BINDIR=${BINDIR:-/usr/local/bin}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
SERVICE=${SERVICE:-yes}   # no: leave systemd alone (tests install into a scratch prefix)

say() { printf '%s\n' "$*"; }
[ "$(id -u)" = 0 ] || { say "error: make install needs root (it makes groups and $PREFIX)"; exit 1; }
[ -x "$SYSTEM_PYTHON" ] || { say "error: $SYSTEM_PYTHON not found; hint: apt-get install python3-venv"; exit 1; }

for group in colony colony-admin; do
    if ! getent group "$group" >/dev/null; then
        groupadd --system "$group"
        say "made group $group"
    fi
done

if [ ! -x "$PREFIX/bin/python" ]; then
    say "making a virtualenv in $PREFIX on $SYSTEM_PYTHON"
    "$SYSTEM_PYTHON" -m venv "$PREFIX"
fi
say "installing Colony into $PREFIX (Python dependencies from PyPI)"
"$PREFIX/bin/pip" install -q --disable-pip-version-check --upgrade "$SRC"
chmod -R go+rX "$PREFIX"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
mkdir -p "$BINDIR"
ln -sfn "$PREFIX/bin/colony" "$BINDIR/colony"
say "linked $BINDIR/colony"

if [ "$SERVICE" = yes ] && [ -d /run/systemd/system ]; then
    sed "s|@PREFIX@|$PREFIX|g" "$SRC/packaging/mycelium.service" > "$UNIT_DIR/mycelium.service"
    systemctl daemon-reload
    systemctl enable --now mycelium.service
    say "Mycelium runs as the systemd unit mycelium.service"
elif [ "$SERVICE" = yes ]; then
    say "systemd is not running here: start Mycelium with 'colony daemon start' (as root)"
fi
say "done. Let a user in with: usermod -aG colony USER (admins: colony-admin), then log in again"
