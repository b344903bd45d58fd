#!/bin/sh
# Slurm prolog (slurm.conf: Prolog=/etc/slurm/yingdu-prolog.sh) on GPU nodes: writes the job's
# work reference where the yingdu agent looks it up (yingdu-agent run --slurm-job-dir
# /run/yingdu-agent/slurm-jobs). The agent finds a GPU process's job id in its cgroup path
# (…/job_<id>/…) and reads /run/yingdu-agent/slurm-jobs/<id>.
#
# Users name the work when they submit: sbatch --comment "yingdu:京剧备字2026001号" … (or with
# the USCC: --comment "yingdu:<work ref>:<USCC>"). The epilog (slurm-epilog.sh) removes the file.
set -eu
dir=${YINGDU_SLURM_JOB_DIR:-/run/yingdu-agent/slurm-jobs}
[ -n "${SLURM_JOB_ID:-}" ] || exit 0
comment=$(scontrol show job "$SLURM_JOB_ID" -o 2>/dev/null | sed -n 's/.* Comment=\([^ ]*\).*/\1/p')
case "$comment" in
  yingdu:*) ;;
  *) exit 0 ;;
esac
rest=${comment#yingdu:}
work_ref=${rest%%:*}
uscc=""
[ "$rest" != "$work_ref" ] && uscc=${rest#*:}
mkdir -p "$dir"
tmp="$dir/.$SLURM_JOB_ID.$$"
{
  printf 'YINGDU_WORK_REF=%s\n' "$work_ref"
  printf 'YINGDU_JOB_ID=%s\n' "$SLURM_JOB_ID"
  [ -n "$uscc" ] && printf 'YINGDU_ENTERPRISE_USCC=%s\n' "$uscc"
} > "$tmp"
mv "$tmp" "$dir/$SLURM_JOB_ID"
exit 0
