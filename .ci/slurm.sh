#!/usr/bin/env bash
# Start a one-host Slurm cluster (munge + slurmctld + slurmd from Debian's slurm-wlm) for the srun tests.
# Installs the packages if missing. Exits 1 (saying why on stderr) if it cannot; `slurm.sh stop` stops it.
# Loopback only: the controller and the node listen on 127.0.0.1. Needs root (the daemons run as root
# here, as in a container; munged runs as its own user).
set -uo pipefail
conf=/etc/slurm/slurm.conf
state=/tmp/mlfp-slurm
if [ "${1:-}" = stop ]; then
  pkill -x slurmd; pkill -x slurmctld; pkill -x munged
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "slurm.sh: needs root to run the Slurm daemons" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } >&2 || exit 1
fi
if [ -f "$conf" ] && ! grep -q "written by mlfootprint .ci/slurm.sh" "$conf"; then
  echo "slurm.sh: $conf exists and is not ours; not touching a real cluster's configuration" >&2
  exit 1
fi
node=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p "$state/ctld" "$state/d" /etc/slurm /run/munge
cat > "$conf" <<CONF
# written by mlfootprint .ci/slurm.sh: a one-host test cluster
ClusterName=mlfp
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=60 State=UP OverSubscribe=YES
CONF
chown munge:munge /run/munge 2>/dev/null
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged >&2 || { echo "slurm.sh: munged did not start" >&2; exit 1; }
pgrep -x slurmctld >/dev/null || slurmctld >&2 || { echo "slurm.sh: slurmctld did not start ($state/slurmctld.log)" >&2; exit 1; }
pgrep -x slurmd >/dev/null || slurmd >&2 || { echo "slurm.sh: slurmd did not start ($state/slurmd.log)" >&2; exit 1; }
for _ in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
    echo "Slurm: one-host cluster $node up ($cpus CPUs)" >&2
    exit 0
  fi
  sleep 0.5
done
echo "slurm.sh: the node did not come up: $(sinfo -h 2>&1 | head -1); see $state/slurmd.log" >&2
exit 1
