#!/usr/bin/env bash
# Real-GPU check of the collector agent (issue 8). Needs an NVIDIA GPU with its driver; no network.
#
#   bash bench/gpu_agent_check.sh                 # 120 s at a 1 s interval (the issue's figures)
#   DURATION=30 bash bench/gpu_agent_check.sh     # a quicker look
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

exec "$PY" - "${DURATION:-120}" "${INTERVAL:-1}" <<'EOF'
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
LABEL = {"YINGDU_WORK_REF": "GPU-CHECK-" + time.strftime("%Y%m%d%H%M%S"), "YINGDU_ENTERPRISE_USCC": "91110116MA01ABCD11", "YINGDU_JOB_ID": "gpu-check", "YINGDU_SCENARIO": "render"}
TICK = os.sysconf("SC_CLK_TCK")

BURNER = r'''
import ctypes, sys, time
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
uuid = f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
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
launches = 0
while time.monotonic() < deadline:
    check(cuda.cuLaunchKernel(function, 4096, 1, 1, 256, 1, 1, 0, None, params, None), "cuLaunchKernel")
    check(cuda.cuCtxSynchronize(), "cuCtxSynchronize")
    launches += 1
print(f"launches {launches}", flush=True)
'''

records = []


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


work = tempfile.mkdtemp(prefix="yingdu-gpu-check-")
failures = []
burner = agent = None
try:
    key = generate_key(os.path.join(work, "node.key"))
    public = load_public_key(public_key_b64(key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    burner = subprocess.Popen([sys.executable, "-c", BURNER, str(DURATION + 20)], env={**os.environ, **LABEL}, stdout=subprocess.PIPE, text=True)
    job_uuid = burner.stdout.readline().strip()
    if not job_uuid.startswith("GPU-"):
        sys.exit(f"FAIL: the GPU job did not start (exit {burner.wait()})")
    print(f"GPU job pid {burner.pid} on {job_uuid}, label {LABEL['YINGDU_WORK_REF']}")
    time.sleep(3)  # let power settle under load

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByUUID(job_uuid.encode())
    power_samples = []  # (monotonic-free wall time, mW)
    stop = threading.Event()

    def sample_power():
        while not stop.is_set():
            power_samples.append((time.time(), pynvml.nvmlDeviceGetPowerUsage(handle)))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample_power, daemon=True)
    sampler.start()
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "--backend", "nvml", "--interval", INTERVAL,
         "--record-seconds", "30", "--max-runtime", str(DURATION), "--server", f"http://127.0.0.1:{server.server_port}",
         "--token", "ydp_gpu_check", "--node-id", "gpu-check", "--key", os.path.join(work, "node.key"),
         "--spool", os.path.join(work, "spool")],
    )
    started = time.monotonic()
    time.sleep(min(15, DURATION / 4))
    cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
    time.sleep(max(1, DURATION - (time.monotonic() - started) - 3))
    cpu1, t1 = cpu_seconds(agent.pid), time.monotonic()
    _pid, status, usage = os.wait4(agent.pid, 0)
    lifetime = time.monotonic() - started
    agent = None
    stop.set()
    sampler.join()
    total_cpu = usage.ru_utime + usage.ru_stime
    burner.terminate()
    burner.wait(30)

    mine = [r for r in records if r["gpu_uuid"] == job_uuid and r["work_ref"] == LABEL["YINGDU_WORK_REF"]]
    print(f"\nrecords received: {len(records)}, naming the job's GPU and label: {len(mine)}")
    for r in mine:
        print(f"  {r['started_at']} → {r['ended_at']}  {r['gpu_seconds']:>7} s  util {r['avg_util_pct']:>5}%  "
              f"mem {r['max_mem_mib']} MiB  {r['energy_wh']} Wh  job {r['job_id']}")
    if not mine:
        failures.append("no record names the job's GPU and label")
    if not all(verify_record(r, public) for r in records):
        failures.append("a record's signature does not verify")

    def power_integral_wh(start, end):
        pts = [(t, p) for t, p in power_samples if start <= t <= end]
        if len(pts) < 2:
            return None
        mj = sum((t2 - t1) * (p1 + p2) / 2 for (t1, p1), (t2, p2) in zip(pts, pts[1:], strict=False))
        # The samples cover [first, last]; scale to the window by the mean power.
        covered = pts[-1][0] - pts[0][0]
        return mj / covered * (end - start) / 3_600_000 if covered > 0 else None

    agent_wh = integral_wh = 0.0
    for r in mine:
        start = datetime.fromisoformat(r["started_at"]).timestamp()
        end = datetime.fromisoformat(r["ended_at"]).timestamp()
        wh = power_integral_wh(start, end)
        if wh is not None:
            agent_wh += r["energy_wh"]
            integral_wh += wh
    if integral_wh > 0:
        diff = abs(agent_wh - integral_wh) / integral_wh * 100
        print(f"\nenergy: records (energy counter) {agent_wh:.3f} Wh, ∫ sampled power {integral_wh:.3f} Wh, difference {diff:.2f} % (target ≤ 2 %)")
        if diff > 2:
            failures.append(f"energy differs from the power integral by {diff:.2f} %")
    else:
        failures.append("no power samples inside the records' windows")

    steady = (cpu1 - cpu0) / (t1 - t0) * 100
    whole = total_cpu / lifetime * 100
    print(f"agent CPU: {steady:.3f} % of one core in steady state at a {INTERVAL} s interval (target < 0.5 %); "
          f"{whole:.3f} % over its {lifetime:.0f} s life including start-up; exit status {status >> 8}")
    if steady >= 0.5:
        failures.append(f"agent CPU {steady:.3f} % ≥ 0.5 %")
    if status != 0:
        failures.append(f"agent exit status {status >> 8}")
finally:
    for proc in (agent, burner):
        if proc is not None and proc.poll() is None:
            proc.kill()
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print("\nFAIL: " + "; ".join(failures))
    sys.exit(1)
print("\nOK: every check passed")
EOF
