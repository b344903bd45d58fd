#!/usr/bin/env bash
# Real-GPU check of the collector agent. Needs an NVIDIA GPU with its driver; no network.
#
#   bash bench/gpu_agent_check.sh                 # 120 s at a 1 s interval, then 60 s time-shared, then MIG
#   DURATION=30 SHARE_DURATION=30 MIG_DURATION=30 bash bench/gpu_agent_check.sh     # a quicker look
#
# What it runs, all on 127.0.0.1 and in a temporary folder:
#   1. a GPU job: a busy FMA kernel written in PTX, JIT-compiled and launched in a loop through
#      the CUDA driver API (libcuda, which ships with the driver) with ctypes, holding 4 GiB of
#      device memory, so neither PyTorch nor the CUDA toolkit is needed. Its environment carries
#      the job label YINGDU_WORK_REF / YINGDU_ENTERPRISE_USCC / YINGDU_JOB_ID;
#   2. a tiny HTTP sink standing in for the platform (answers every record "accepted");
#   3. the agent: `python -m agent run --backend nvml --interval 1` for DURATION seconds,
#      records closed every 30 s, with a fresh node key;
#   4. an independent sampler reading NVML power every 0.25 s during the run.
# Then it prints and checks:
#   - the records name the job's GPU (UUID from CUDA) and its label, and their signatures verify;
#   - the records' energy (the agent's energy-counter differences) against the integral of the
#     sampled power over the same windows: within 2 %;
#   - the agent's CPU time (user + system, from /proc) per wall second in steady state (after
#     start-up and before shutdown) and over its whole life: under 0.5 % of one core.
# Then, time-sharing: two GPU jobs with different labels on the first GPU, one launching
# back to back, the other resting between launches, and the agent for SHARE_DURATION seconds:
#   - both jobs get records of that GPU (``split_rule`` process_util, or equal where the
#     driver reports no per-process utilisation), each under its own share ``gpu_uuid``;
#   - their GPU seconds add up to the device's seconds (within 1 %), never more.
# Then MIG, when the first GPU is in MIG mode with two or more instances (enabling MIG needs
# a GPU reset, so the check never does it): a job on each of two instances, the agent for
# MIG_DURATION seconds:
#   - each instance gets its own records (``gpu_uuid`` MIG-…, ``device_uuid`` the board);
#   - the instances' energy adds up to the board's ∫ sampled power over the run (within 2 %).
# Exit status 0 when every check passes, 1 when one fails, 2 when there is no usable GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3 || true)"
[ -n "$PY" ] || { echo "FAIL: no Python 3 found" >&2; exit 2; }

if ! "$PY" - <<'EOF'
import sys
try:
    import cryptography, rfc8785, pynvml  # noqa: F401
except ImportError as exc:
    sys.exit(f"FAIL: the agent needs cryptography, rfc8785 and nvidia-ml-py: {exc}")
try:
    pynvml.nvmlInit()
    count = pynvml.nvmlDeviceGetCount()
except pynvml.NVMLError as exc:
    sys.exit(f"FAIL: no NVIDIA GPU here (NVML: {exc}); this check needs a GPU node")
if count == 0:
    sys.exit("FAIL: NVML found no GPU; this check needs a GPU node")
print(f"NVML {pynvml.nvmlSystemGetDriverVersion()}: {count} GPU(s)")
EOF
then
  exit 2
fi

exec "$PY" - "${DURATION:-120}" "${INTERVAL:-1}" "${SHARE_DURATION:-60}" "${MIG_DURATION:-60}" <<'EOF'
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pynvml

sys.path.insert(0, os.getcwd())
from agent.signing import generate_key, load_public_key, public_key_b64, verify_record  # noqa: E402

DURATION = float(sys.argv[1])
INTERVAL = sys.argv[2]
SHARE_DURATION = float(sys.argv[3])
MIG_DURATION = float(sys.argv[4])
LABEL = {"YINGDU_WORK_REF": "GPU-CHECK-" + time.strftime("%Y%m%d%H%M%S"), "YINGDU_ENTERPRISE_USCC": "91110116MA01ABCD11", "YINGDU_JOB_ID": "gpu-check", "YINGDU_SCENARIO": "render"}
TICK = os.sysconf("SC_CLK_TCK")

BURNER = r'''
import ctypes, os, sys, time
PTX = b"""
.version 7.0
.target sm_52
.address_size 64
.visible .entry burn(.param .u64 out, .param .u32 iters)
{
    .reg .pred p;
    .reg .f32 a, b, c;
    .reg .u32 i, n, t;
    .reg .u64 addr, off;
    ld.param.u64 addr, [out];
    ld.param.u32 n, [iters];
    mov.u32 t, %tid.x;
    cvt.rn.f32.u32 a, t;
    mov.f32 b, 0f3F800001;
    mov.f32 c, 0f3F000000;
    mov.u32 i, 0;
LOOP:
    fma.rn.f32 a, a, b, c;
    fma.rn.f32 c, c, b, a;
    add.u32 i, i, 1;
    setp.lt.u32 p, i, n;
    @p bra LOOP;
    add.f32 a, a, c;
    mul.wide.u32 off, t, 4;
    add.u64 addr, addr, off;
    st.global.f32 [addr], a;
    ret;
}
"""
cuda = ctypes.CDLL("libcuda.so.1")
def check(result, what):
    if result != 0:
        name = ctypes.c_char_p()
        cuda.cuGetErrorName(result, ctypes.byref(name))
        sys.exit(f"CUDA {what} failed: {name.value}")
check(cuda.cuInit(0), "cuInit")
device = ctypes.c_int()
check(cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
raw = (ctypes.c_ubyte * 16)()
check(cuda.cuDeviceGetUuid(raw, device), "cuDeviceGetUuid")
h = bytes(raw).hex()
# A MIG instance's own UUID is what the agent records; the caller names it in CHECK_DEVICE_UUID.
uuid = os.environ.get("CHECK_DEVICE_UUID") or f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
context = ctypes.c_void_p()
check(cuda.cuCtxCreate_v2(ctypes.byref(context), 0, device), "cuCtxCreate")
module = ctypes.c_void_p()
check(cuda.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(PTX)), "cuModuleLoadData (PTX JIT)")
function = ctypes.c_void_p()
check(cuda.cuModuleGetFunction(ctypes.byref(function), module, b"burn"), "cuModuleGetFunction")
out = ctypes.c_uint64()
check(cuda.cuMemAlloc_v2(ctypes.byref(out), ctypes.c_size_t(4 << 30)), "cuMemAlloc 4 GiB")
iters = ctypes.c_uint32(2_000_000)
params = (ctypes.c_void_p * 2)(ctypes.cast(ctypes.byref(out), ctypes.c_void_p), ctypes.cast(ctypes.byref(iters), ctypes.c_void_p))
print(uuid, flush=True)
deadline = time.monotonic() + float(sys.argv[1])
rest = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0  # seconds of rest per launch (a lighter job)
launches = 0
while time.monotonic() < deadline:
    check(cuda.cuLaunchKernel(function, 4096, 1, 1, 256, 1, 1, 0, None, params, None), "cuLaunchKernel")
    check(cuda.cuCtxSynchronize(), "cuCtxSynchronize")
    launches += 1
    if rest:
        time.sleep(rest)
print(f"launches {launches}", flush=True)
'''

records = []
failures = []
procs = []


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        records.extend(body["records"])
        data = json.dumps({"results": [{"record_id": r["record_id"], "status": "accepted"} for r in body["records"]], "checkpoint": ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        return


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def label(name):
    return {**LABEL, "YINGDU_WORK_REF": f"{LABEL['YINGDU_WORK_REF']}-{name}", "YINGDU_JOB_ID": f"gpu-check-{name}"}


def start_burner(seconds, job_label, device_uuid, rest=0.0):
    """A GPU job on one device (a GPU or MIG instance, by UUID); returns its process once it runs."""
    env = {**os.environ, **job_label, "CUDA_VISIBLE_DEVICES": device_uuid, "CHECK_DEVICE_UUID": device_uuid}
    burner = subprocess.Popen([sys.executable, "-c", BURNER, str(seconds), str(rest)], env=env, stdout=subprocess.PIPE, text=True)
    procs.append(burner)
    seen = burner.stdout.readline().strip()
    if not seen:
        sys.exit(f"FAIL: the GPU job on {device_uuid} did not start (exit {burner.wait()})")
    print(f"GPU job pid {burner.pid} on {device_uuid}, label {job_label['YINGDU_WORK_REF']}")
    return burner


class PowerSampler:
    """NVML power of one GPU every 0.25 s, on its own thread."""

    def __init__(self, handle):
        self.handle, self.samples, self.stop = handle, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.time(), pynvml.nvmlDeviceGetPowerUsage(self.handle)))
            self.stop.wait(0.25)

    def finish(self):
        self.stop.set()
        self.thread.join()

    def integral_wh(self, start, end):
        pts = [(t, p) for t, p in self.samples if start <= t <= end]
        if len(pts) < 2:
            return None
        mj = sum((t2 - t1) * (p1 + p2) / 2 for (t1, p1), (t2, p2) in zip(pts, pts[1:], strict=False))
        # The samples cover [first, last]; scale to the window by the mean power.
        covered = pts[-1][0] - pts[0][0]
        return mj / covered * (end - start) / 3_600_000 if covered > 0 else None


def run_agent(work, port, duration, *, measure_cpu=False):
    """The agent for ``duration`` seconds; returns (CPU % in steady state, CPU % over its life, exit status)."""
    spool = os.path.join(work, f"spool-{time.monotonic_ns()}")
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "--backend", "nvml", "--interval", INTERVAL,
         "--record-seconds", "30", "--max-runtime", str(duration), "--server", f"http://127.0.0.1:{port}",
         "--token", "ydp_gpu_check", "--node-id", "gpu-check", "--key", os.path.join(work, "node.key"),
         "--spool", spool, "--metrics-port", "0", "--clock-probe", "none"],
    )
    procs.append(agent)
    started = time.monotonic()
    steady = None
    if measure_cpu:
        time.sleep(min(15, duration / 4))
        cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
        time.sleep(max(1, duration - (time.monotonic() - started) - 3))
        cpu1, t1 = cpu_seconds(agent.pid), time.monotonic()
        steady = (cpu1 - cpu0) / (t1 - t0) * 100
    _pid, status, usage = os.wait4(agent.pid, 0)
    procs.remove(agent)
    lifetime = time.monotonic() - started
    return steady, (usage.ru_utime + usage.ru_stime) / lifetime * 100, status


def span(record):
    return datetime.fromisoformat(record["started_at"]).timestamp(), datetime.fromisoformat(record["ended_at"]).timestamp()


def show(rs):
    for r in rs:
        print(f"  {r['gpu_uuid'][:60]:<60} {r['started_at']} → {r['ended_at']}  {r['gpu_seconds']:>7} s  "
              f"util {r['avg_util_pct']:>5}%  {r['energy_wh']} Wh  {r['work_ref']}  {r.get('split_rule')}/{r.get('energy_rule')}")


work = tempfile.mkdtemp(prefix="yingdu-gpu-check-")
try:
    key = generate_key(os.path.join(work, "node.key"))
    public = load_public_key(public_key_b64(key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pynvml.nvmlInit()
    board = pynvml.nvmlDeviceGetHandleByIndex(0)
    board_uuid = pynvml.nvmlDeviceGetUUID(board)
    board_uuid = board_uuid.decode() if isinstance(board_uuid, bytes) else board_uuid
    try:
        mig_mode = pynvml.nvmlDeviceGetMigMode(board)[0]
    except pynvml.NVMLError:
        mig_mode = 0

    # -- 1. one job: signatures, energy against ∫ power, agent CPU at 1 Hz ------------------------
    if mig_mode == 1:
        print("\n1. one job on a whole GPU: skipped, the first GPU is in MIG mode")
    else:
        print(f"\n1. one job on {board_uuid} for {DURATION:.0f} s")
        job = label("single")
        burner = start_burner(DURATION + 20, job, board_uuid)
        time.sleep(3)  # let power settle under load
        sampler = PowerSampler(board)
        steady, whole, status = run_agent(work, server.server_port, DURATION, measure_cpu=True)
        sampler.finish()
        burner.terminate()
        burner.wait(30)
        mine = [r for r in records if r["gpu_uuid"] == board_uuid and r["work_ref"] == job["YINGDU_WORK_REF"]]
        print(f"records received: {len(records)}, naming the job's GPU and label: {len(mine)}")
        show(mine)
        if not mine:
            failures.append("no record names the job's GPU and label")
        if not all(verify_record(r, public) for r in records):
            failures.append("a record's signature does not verify")
        agent_wh = integral_wh = 0.0
        for r in mine:
            wh = sampler.integral_wh(*span(r))
            if wh is not None:
                agent_wh += r["energy_wh"]
                integral_wh += wh
        if integral_wh > 0:
            diff = abs(agent_wh - integral_wh) / integral_wh * 100
            print(f"energy: records (energy counter) {agent_wh:.3f} Wh, ∫ sampled power {integral_wh:.3f} Wh, difference {diff:.2f} % (target ≤ 2 %)")
            if diff > 2:
                failures.append(f"energy differs from the power integral by {diff:.2f} %")
        else:
            failures.append("no power samples inside the records' windows")
        print(f"agent CPU: {steady:.3f} % of one core in steady state at a {INTERVAL} s interval (target ≤ 0.5 %); "
              f"{whole:.3f} % over its life including start-up; exit status {status >> 8}")
        if steady > 0.5:
            failures.append(f"agent CPU {steady:.3f} % > 0.5 %")
        if status != 0:
            failures.append(f"agent exit status {status >> 8}")

    # -- 2. two jobs time-sharing the GPU: their seconds add up to the device's ---------------
    if mig_mode == 1:
        print("\n2. time-sharing: skipped, the first GPU is in MIG mode")
    else:
        print(f"\n2. two jobs time-sharing {board_uuid} for {SHARE_DURATION:.0f} s")
        records.clear()
        heavy, light = label("heavy"), label("light")
        burners = [start_burner(SHARE_DURATION + 20, heavy, board_uuid), start_burner(SHARE_DURATION + 20, light, board_uuid, rest=0.05)]
        time.sleep(3)
        _steady, _whole, status = run_agent(work, server.server_port, SHARE_DURATION)
        for burner in burners:
            burner.terminate()
            burner.wait(30)
        shared = [r for r in records if r.get("device_uuid") == board_uuid and r["work_ref"] in (heavy["YINGDU_WORK_REF"], light["YINGDU_WORK_REF"])]
        show(shared)
        per_job = {ref: sum(r["gpu_seconds"] for r in shared if r["work_ref"] == ref) for ref in (heavy["YINGDU_WORK_REF"], light["YINGDU_WORK_REF"])}
        windows = sorted({span(r) for r in shared})
        covered, last_end = 0.0, None
        for start, end in windows:  # the device's seconds: the union of the records' windows
            start = max(start, last_end) if last_end is not None else start
            covered += max(0.0, end - start)
            last_end = end if last_end is None else max(last_end, end)
        total = sum(per_job.values())
        rules = sorted({r.get("split_rule") for r in shared})
        print(f"time-shared split ({', '.join(map(str, rules))}): " + ", ".join(f"{ref} {s:.1f} s" for ref, s in per_job.items())
              + f"; sum {total:.1f} s against the device's {covered:.1f} s (target: equal within 1 %, never more)")
        if not all(per_job.values()):
            failures.append("a time-sharing job got no record")
        elif covered <= 0 or total > covered * 1.001 + 0.01 or total < covered * 0.99:
            failures.append(f"time-shared seconds {total:.1f} do not add up to the device's {covered:.1f}")
        if len({r["gpu_uuid"] for r in shared}) < 2:
            failures.append("time-sharing jobs share one gpu_uuid")
        if not all(verify_record(r, public) for r in records):
            failures.append("a time-shared record's signature does not verify")

    # -- 3. MIG: each instance its own device, the board's energy shared among them -------------
    instances = []
    if mig_mode == 1:
        for slot in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(board)):
            try:
                mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(board, slot)
            except pynvml.NVMLError:
                continue
            mig_uuid = pynvml.nvmlDeviceGetUUID(mig)
            instances.append(mig_uuid.decode() if isinstance(mig_uuid, bytes) else mig_uuid)
    if len(instances) < 2:
        print("\n3. MIG: skipped, the first GPU is not in MIG mode with two instances "
              "(nvidia-smi -i 0 -mig 1, then nvidia-smi mig -cgi 9,9 -C, as root, to try it)")
    else:
        print(f"\n3. MIG: a job on each of {instances[0]} and {instances[1]} for {MIG_DURATION:.0f} s")
        records.clear()
        jobs = [label("mig-a"), label("mig-b")]
        burners = [start_burner(MIG_DURATION + 20, jobs[0], instances[0]), start_burner(MIG_DURATION + 20, jobs[1], instances[1], rest=0.05)]
        time.sleep(3)
        sampler = PowerSampler(board)
        _steady, _whole, status = run_agent(work, server.server_port, MIG_DURATION)
        sampler.finish()
        for burner in burners:
            burner.terminate()
            burner.wait(30)
        mig_records = [r for r in records if r["gpu_uuid"] in instances[:2]]
        show(mig_records)
        for mig_uuid, job in zip(instances, jobs, strict=False):
            if not [r for r in mig_records if r["gpu_uuid"] == mig_uuid and r["work_ref"] == job["YINGDU_WORK_REF"]]:
                failures.append(f"no record of {mig_uuid} names its job")
        if any(r.get("device_uuid") != board_uuid for r in mig_records):
            failures.append("a MIG record does not name its board")
        # The instances' energy against ∫ board power over the windows both instances cover.
        windows = sorted({span(r) for r in mig_records})
        agent_wh = sum(r["energy_wh"] for r in mig_records)
        integral_wh = sum(sampler.integral_wh(*w) or 0.0 for w in windows) if windows else 0.0
        if integral_wh > 0:
            diff = abs(agent_wh - integral_wh) / integral_wh * 100
            print(f"MIG energy: instances' records {agent_wh:.3f} Wh, ∫ board power {integral_wh:.3f} Wh, difference {diff:.2f} % (target ≤ 2 %)")
            if diff > 2:
                failures.append(f"MIG energy differs from the board's power integral by {diff:.2f} %")
        else:
            failures.append("no power samples inside the MIG records' windows")
finally:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print("\nFAIL: " + "; ".join(failures))
    sys.exit(1)
print("\nOK: every check passed")
EOF
