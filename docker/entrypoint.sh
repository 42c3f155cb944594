#!/bin/sh
# evpn-monitor container entrypoint (both images).
#
# 1. waits for containerlab's data interfaces (CLAB_INTFS),
# 2. starts the fpm-consumer when EVPNMON_CONSUMER=1 (before zebra, so that
#    zebra's FPM client finds its server at once),
# 3. starts the FRR daemons enabled in /etc/frr/daemons (zebra, bgpd,
#    staticd) with their *_options, after all_wrap and <daemon>_wrap (split
#    on blanks, as *_options; a wrapper must exec the daemon), per-daemon
#    paths under /run/frr, no -f config: the integrated /etc/frr/frr.conf
#    is applied with `vtysh -f` once they are up (a daemon started with -f
#    frr.conf also parses the other daemons' lines: zebra takes bgpd's
#    `vni 100` for an L3 VNI); each daemon's part is then saved to
#    /run/frr/<daemon>.conf,
# 4. runs EVPNMON_CMD (sh -c) in the background if set, then waits;
#    SIGTERM/SIGINT stop everything.
#
# The netns runner tests/lab/clabns.py does the same steps with per-node
# paths; docs/lab.md describes the conventions.
set -u

FRR_DAEMON_DIR=${FRR_DAEMON_DIR:-/usr/lib/frr}
FRR_VTYSH=${FRR_VTYSH:-/usr/bin/vtysh}
# vtysh's own config next to a relocated vtysh (see vtysh-wrapper.sh)
VTYSH_CONF=
[ -e "$(dirname "$FRR_VTYSH")/../etc/vtysh.conf" ] && VTYSH_CONF="--config_dir $(dirname "$FRR_VTYSH")/../etc"
FRR_MODULEDIR=${FRR_MODULEDIR:-}
RUN=/run/frr
LOG=/var/log/frr
DAEMONS_FILE=/etc/frr/daemons
CONF=/etc/frr/frr.conf
if [ -n "${FRR_LIBDIR:-}" ]; then
  LD_LIBRARY_PATH="$FRR_LIBDIR:$FRR_LIBDIR/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
fi

say() { echo "evpnmon-entrypoint: $*" >&2; }
PIDS=""

# wait up to $2 tenths of a second for the pids in $1 to exit
wait_pids() {
  i=0
  while [ $i -lt "$2" ]; do
    alive=""
    for p in $1; do   # alive and not a zombie (PID 1 of a container reaps late)
      kill -0 "$p" 2>/dev/null && ! grep -q ') Z' "/proc/$p/stat" 2>/dev/null && alive=1
    done
    [ -z "$alive" ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  for p in $1; do kill -9 "$p" 2>/dev/null; done
}

pidof_daemon() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid"; }

stop_all() {
  say "stopping"
  # zebra's clients first, then zebra, then the rest: all at once made zebra
  # with dplane_fpm_nl hang in its shutdown (SIGKILL after 5 s)
  clients="$(pidof_daemon staticd) $(pidof_daemon bgpd)"
  kill $clients 2>/dev/null; wait_pids "$clients" 50
  z="$(pidof_daemon zebra)"
  [ -n "$z" ] && { kill "$z" 2>/dev/null; wait_pids "$z" 50; }
  rest="$PIDS ${SLEEP:-}"
  kill $rest 2>/dev/null; wait_pids "$rest" 50
  exit 0
}
trap stop_all TERM INT

# 1. containerlab attaches eth1..ethN after the container started
if [ -n "${CLAB_INTFS:-}" ]; then
  i=0
  while [ $i -lt 600 ]; do
    n=$(ls /sys/class/net | grep -c '^eth[1-9]')
    [ "$n" -ge "$CLAB_INTFS" ] && break
    sleep 0.1; i=$((i + 1))
  done
  say "$n of $CLAB_INTFS data interfaces present"
fi

mkdir -p "$RUN" "$LOG"
chown frr:frr "$RUN" "$LOG" 2>/dev/null || true

# 2. optional fpm-consumer (EVPNMON_CONSUMER=1 in the clab node's env)
case "${EVPNMON_CONSUMER:-0}" in
  1|true|yes)
    cmd=${EVPNMON_CONSUMER_CMD:-}
    if [ -z "$cmd" ]; then
      for b in evpnmon-fpm-consumer fpm-consumer evpn-monitor-fpm-consumer; do
        if command -v "$b" >/dev/null 2>&1; then cmd="$b ${EVPNMON_CONSUMER_ARGS:-}"; break; fi
      done
    fi
    cmd=$(printf '%s' "$cmd" | sed -e "s|@RUNDIR@|$RUN|g" -e "s|@BPFDIR@|/sys/fs/bpf|g" \
          -e "s|@NODE@|$(hostname)|g")
    if [ -n "$cmd" ]; then
      say "starting fpm-consumer: $cmd"
      $cmd >"$LOG/fpm-consumer.log" 2>&1 &
      PIDS="$PIDS $!"
    else
      say "EVPNMON_CONSUMER set but no fpm-consumer binary found; skipped"
    fi ;;
esac

# 3. FRR
started=""
if [ -f "$DAEMONS_FILE" ]; then
  for d in zebra bgpd staticd; do
    enabled=$(sh -c ". '$DAEMONS_FILE' >/dev/null 2>&1; eval echo \"\${$d:-no}\"")
    [ "$enabled" = yes ] || continue
    opts=$(sh -c ". '$DAEMONS_FILE' >/dev/null 2>&1; eval echo \"\${${d}_options:-}\"")
    # words before the binary, as frrcommon.sh does ("$all_wrap $wrap $bin")
    wrap=$(sh -c ". '$DAEMONS_FILE' >/dev/null 2>&1; eval echo \${all_wrap:-} \${${d}_wrap:-}")
    # drop -M modules this FRR does not have (e.g. evpn_mon with stock FRR)
    set -- ; skip=""
    for o in $opts; do
      if [ -n "$skip" ]; then
        m=${o%%:*}
        if [ -n "$FRR_MODULEDIR" ] && [ ! -e "$FRR_MODULEDIR/${d}_$m.so" ] && [ ! -e "$FRR_MODULEDIR/$m.so" ]; then
          say "$d: module $m not found in $FRR_MODULEDIR; not loaded"
        else
          set -- "$@" -M "$o"
        fi
        skip=""; continue
      fi
      [ "$o" = "-M" ] && { skip=1; continue; }
      set -- "$@" "$o"
    done
    [ -n "$FRR_MODULEDIR" ] && set -- "$@" --moduledir "$FRR_MODULEDIR"
    : >"$RUN/$d.conf"; chown frr:frr "$RUN/$d.conf"
    rm -f "$RUN/$d.vty"
    say "starting $d $*${wrap:+ (wrapped: $wrap)}"
    $wrap "$FRR_DAEMON_DIR/$d" -d -f "$RUN/$d.conf" -i "$RUN/$d.pid" -z "$RUN/zserv.api" \
        --vty_socket "$RUN" -P 0 --log "file:$LOG/$d.log" "$@" || say "$d failed to start"
    i=0
    while [ ! -S "$RUN/$d.vty" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    [ -S "$RUN/$d.vty" ] && started="$started $d" || say "$d: no vty socket after 15 s"
  done
fi
if [ -n "$started" ] && [ -f "$CONF" ]; then
  "$FRR_VTYSH" $VTYSH_CONF --vty_socket "$RUN" -f "$CONF" || say "vtysh -f $CONF reported errors"
  for d in $started; do
    "$FRR_VTYSH" $VTYSH_CONF --vty_socket "$RUN" -d "$d" -c "show running-config" \
      | sed -n '/^!\|^frr /,$p' >"$RUN/$d.conf"
  done
  say "FRR up:$started"
fi

# 4.
if [ -n "${EVPNMON_CMD:-}" ]; then
  sh -c "$EVPNMON_CMD" &
  PIDS="$PIDS $!"
fi
while :; do
  sleep 3600 & SLEEP=$!
  wait $SLEEP
done
