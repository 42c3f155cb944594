#!/bin/sh
# vtysh of the image's FRR, talking to the daemons the entrypoint started.
# A relocated FRR (the patched one under /opt) still looks for vtysh.conf in
# the sysconfdir it was built with: point it at the copy next to it.
[ -n "${FRR_LIBDIR:-}" ] && export LD_LIBRARY_PATH="$FRR_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
vtysh=${FRR_VTYSH:-/usr/bin/vtysh}
confdir=$(dirname "$vtysh")/../etc
if [ -e "$confdir/vtysh.conf" ]; then
  exec "$vtysh" --config_dir "$confdir" --vty_socket /run/frr "$@"
fi
exec "$vtysh" --vty_socket /run/frr "$@"
