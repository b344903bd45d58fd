#!/bin/sh
# Slurm epilog (slurm.conf: Epilog=/etc/slurm/yingdu-epilog.sh): removes the job file the prolog wrote.
[ -n "${SLURM_JOB_ID:-}" ] && rm -f "${YINGDU_SLURM_JOB_DIR:-/run/yingdu-agent/slurm-jobs}/$SLURM_JOB_ID"
exit 0
