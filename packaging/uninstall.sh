#!/usr/bin/env bash
# `make uninstall`: remove what `make install` put in place. Colonies, their state and the
# groups stay (remove colonies first with `colony rm`; `groupdel colony` by hand).
set -euo pipefail
PREFIX=${PREFIX:-/opt/colony}
BINDIR=${BINDIR:-/usr/local/bin}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
if [ -f "$UNIT_DIR/mycelium.service" ]; then
    systemctl disable --now mycelium.service || true
    rm -f "$UNIT_DIR/mycelium.service"
    systemctl daemon-reload || true
fi
if [ "$(readlink "$BINDIR/colony" 2>/dev/null)" = "$PREFIX/bin/colony" ]; then
    rm -f "$BINDIR/colony"
fi
rm -rf "$PREFIX"
echo "removed $PREFIX and $BINDIR/colony; state, colonies and the groups colony, colony-admin stay"
