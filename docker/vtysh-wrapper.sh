#!/bin/sh
# vtysh of the image's FRR, talking to the daemons the entrypoint started.
[ -n "${FRR_LIBDIR:-}" ] && export LD_LIBRARY_PATH="$FRR_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "${FRR_VTYSH:-/usr/bin/vtysh}" --vty_socket /run/frr "$@"
