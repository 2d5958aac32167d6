#!/usr/bin/env bash
# A one-node SLURM cluster on 127.0.0.1 for tests: `cluster.sh start <state-dir>` / `cluster.sh stop <state-dir>`.
# Needs root and Debian's slurmctld slurmd slurm-client munge. Daemons are stopped by the PIDs recorded here.
set -euo pipefail
action=$1
state=$(realpath -m "$2")
node=$(hostname -s)
case "$action" in
start)
  mkdir -p "$state"/{spool/slurmd,spool/slurmctld,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge /etc/munge
  cpus=$(nproc)
  memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  # slurm.conf must be at /etc/slurm/slurm.conf: the jobstep plugin drops SLURM_CONF before srun.
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=iadbench-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SchedulerType=sched/backfill
# squeue is the status command (no slurmdbd for sacct): keep finished jobs visible. For an hour: the test
# counts every job the run submitted, and under two xdist workers the run can outlast 5 minutes (a job
# finished more than MinJobAge before the count is gone from squeue; seen in CI: 5 of 10 left).
MinJobAge=3600
# Without a default, one job would take all of the node's memory.
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmdSpoolDir=$state/spool/slurmd
StateSaveLocation=$state/spool/slurmctld
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  runuser -u munge -- munged --pid-file=/run/munge/iadbench-munged.pid
  slurmctld -i
  slurmd
  for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)'; then exit 0; fi
    sleep 1
  done
  echo "SLURM did not come up; logs in $state/log" >&2
  exit 1
  ;;
stop)
  for daemon in slurmd slurmctld; do
    if [ -f "$state/$daemon.pid" ]; then kill "$(cat "$state/$daemon.pid")" 2>/dev/null || true; fi
  done
  if [ -f /run/munge/iadbench-munged.pid ]; then kill "$(cat /run/munge/iadbench-munged.pid)" 2>/dev/null || true; fi
  ;;
esac
