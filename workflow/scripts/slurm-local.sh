#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the cluster tests (tests/test_slurm_*.py)
# and for trying `snakemake --cores all --profile slurm` without a cluster.
#
#   bash workflow/scripts/slurm-local.sh start    install (apt-get) + start munged, slurmctld, slurmd
#   bash workflow/scripts/slurm-local.sh status   exit 0 when the node is up and takes GPU jobs
#   bash workflow/scripts/slurm-local.sh stop     stop the daemons this script started
#
# Runs as root. Debian's slurm-wlm + munge; one node `localhost` with this machine's CPUs and
# memory and two placeholder GPUs (GRES gpu:2 backed by /dev/fake-gpu0 and /dev/fake-gpu1),
# partitions `local-gpu` (the tests pass it as slurm_partition) and `gpu` (the shipped profile's
# placeholder), accounting storage off (job status comes from `squeue`; MinJobAge keeps
# finished jobs listed for an hour).
# `start` is idempotent: with the same configuration and running daemons it only checks them.
# State and logs live in $RNNREPRO_SLURM_DIR (default /tmp/rnnrepro-slurm); the configuration
# goes to /etc/slurm, where every SLURM command finds it without SLURM_CONF.
set -euo pipefail

DIR=${RNNREPRO_SLURM_DIR:-/tmp/rnnrepro-slurm}
CONF_DIR=/etc/slurm
PARTITION=local-gpu
NODE=localhost
MARKER="# written by rnnrepro workflow/scripts/slurm-local.sh"

log() { echo "slurm-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]} == 0)) && return
    log "installing ${missing[*]} (apt-get)"
    [[ $(id -u) == 0 ]] || die "installing packages needs root"
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900 install -y \
        --no-install-recommends slurm-wlm munge >/dev/null \
        || { apt-get -q -o DPkg::Lock::Timeout=900 update >/dev/null &&
             DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900 install -y \
                 --no-install-recommends slurm-wlm munge >/dev/null; } \
        || die "apt-get install slurm-wlm munge failed"
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_works; then return; fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        install -d -o munge -g munge -m 0700 /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
    echo "started" >"$DIR/munged.started"
    for _ in $(seq 50); do munge_works && return; sleep 0.2; done
    die "munged does not answer (see /var/log/munge/munged.log)"
}

# Node line from `slurmd -C` (what slurmd will accept), renamed to $NODE.
node_hardware() {
    slurmd -C | head -1 | sed -E "s/^NodeName=[^ ]+ //; s/ UpTime=.*//"
}

write_config() {
    local conf="$DIR/slurm.conf.new" gres="$DIR/gres.conf.new"
    cat >"$conf" <<EOF
$MARKER
ClusterName=rnnrepro
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# cgroups may be unavailable in containers: track processes through /proc, no task plugin.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
# No accounting database: sacct cannot answer, snakemake polls squeue, which needs finished
# jobs to stay visible well past the plugin's status-check interval.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
ReturnToService=2
SlurmdTimeout=300
KillWait=30
MpiDefault=none
NodeName=$NODE $(node_hardware) Gres=gpu:2 State=UNKNOWN
# local-gpu: the partition the tests name (overriding the profile's, as users elsewhere do);
# gpu: the name slurm/config.yaml ships with, so --profile slurm also works here as typed.
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
    cat >"$gres" <<EOF
$MARKER
# Two placeholder GPUs: SLURM refuses a count-only GPU GRES, so File= names two dummy devices.
NodeName=$NODE Name=gpu File=/dev/fake-gpu[0-1]
EOF
    local changed=0 name
    for name in slurm.conf gres.conf; do
        if [[ -f $CONF_DIR/$name ]] && ! grep -qF "$MARKER" "$CONF_DIR/$name"; then
            log "keeping a copy of the existing $CONF_DIR/$name as $name.rnnrepro-backup"
            cp -n "$CONF_DIR/$name" "$CONF_DIR/$name.rnnrepro-backup"
        fi
        if ! cmp -s "$DIR/$name.new" "$CONF_DIR/$name"; then
            mv "$DIR/$name.new" "$CONF_DIR/$name"
            changed=1
        else
            rm "$DIR/$name.new"
        fi
    done
    return $((changed == 0 ? 1 : 0))  # 0 = the configuration changed
}

fake_gpus() {
    local i
    for i in 0 1; do
        [[ -e /dev/fake-gpu$i ]] && continue
        # A character device (same numbers as /dev/null); a plain file where mknod is refused.
        mknod -m 0666 "/dev/fake-gpu$i" c 1 3 2>/dev/null || touch "/dev/fake-gpu$i"
    done
}

# pid of a daemon we started, if it is still running.
running_pid() {
    local file="$DIR/$1.pid" pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ -d /proc/$pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
    echo "$pid"
}

# Stop process $2 (named $1) and wait until it is gone.
kill_and_wait() {
    log "stopping $1 (pid $2)"
    kill "$2" 2>/dev/null || return 0
    for _ in $(seq 100); do [[ -d /proc/$2 ]] || return 0; sleep 0.1; done
    kill -9 "$2" 2>/dev/null || true
}

stop_daemon() {
    local pid
    pid=$(running_pid "$1") || return 0
    kill_and_wait "$1" "$pid"
}

node_state() { timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }

# Start a daemon unless it runs; fail fast with its log when it dies (e.g. a fatal config error).
start_daemon() {
    local name=$1
    shift
    running_pid "$name" >/dev/null && return
    log "starting $name"
    "$name" "$@" || die "$name did not start (see $DIR/log/$name.log)"
    sleep 1
    running_pid "$name" >/dev/null && return
    tail -n 5 "$DIR/log/$name.log" >&2 || true
    die "$name exited right after starting (see $DIR/log/$name.log)"
}

ready() {
    local state
    state=$(node_state) || return 1
    [[ $state =~ ^(idle|mixed|allocated) ]] || return 1
    timeout 60 srun -p "$PARTITION" --gpus=1 -t 1 -J slurm-local-check true >/dev/null 2>&1
}

start() {
    [[ $(id -u) == 0 ]] || die "run as root (it writes /etc/slurm and starts system daemons)"
    ensure_packages
    install -d -m 0755 "$DIR" "$DIR/state" "$DIR/spool" "$DIR/log" "$CONF_DIR"
    start_munge
    fake_gpus
    if write_config; then
        log "configuration written to $CONF_DIR/slurm.conf and $CONF_DIR/gres.conf"
        stop_daemon slurmd
        stop_daemon slurmctld
    fi
    start_daemon slurmctld
    start_daemon slurmd -N "$NODE"
    local state="" deadline=$((SECONDS + 90))
    while ((SECONDS < deadline)); do
        running_pid slurmctld >/dev/null || die "slurmctld died (see $DIR/log/slurmctld.log)"
        state=$(node_state || true)
        case $state in
            idle*|mixed*|allocated*) break ;;
            down*|drain*|fail*)
                scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    [[ $state =~ ^(idle|mixed|allocated) ]] \
        || die "node $NODE is '$state', not idle (see $DIR/log/slurmd.log, slurmctld.log)"
    timeout 120 srun -p "$PARTITION" --gpus=1 -t 1 -J slurm-local-check true \
        || die "srun --gpus=1 true failed on partition $PARTITION"
    log "ready: partition $PARTITION, node $NODE ($(node_hardware)), gres gpu:2"
}

stop() {
    stop_daemon slurmd
    stop_daemon slurmctld
    if [[ -f $DIR/munged.started ]]; then
        local pid
        pid=$(cat /run/munge/munged.pid 2>/dev/null || true)
        if [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == munged ]]; then
            kill_and_wait munged "$pid"
        fi
        rm -f "$DIR/munged.started"
    fi
}

status() {
    local ok=0 daemon pid
    for daemon in slurmctld slurmd; do
        if pid=$(running_pid "$daemon"); then
            echo "$daemon: running (pid $pid)"
        else
            echo "$daemon: not running"; ok=1
        fi
    done
    if munge_works; then echo "munge: working"; else echo "munge: not working"; ok=1; fi
    if ((ok == 0)); then
        sinfo -o "%P %a %D %T %G %c %m" || ok=1
        if ready; then echo "ready: srun --gpus=1 works"; else echo "not ready"; ok=1; fi
    fi
    return $ok
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
