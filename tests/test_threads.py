"""Fair CPU shares (lmlab.threads): the cgroup parser on fake files, and a real kernel under LMLAB_THREADS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmlab.threads import cgroup_cpu_limit, thread_share

ROOT = Path(__file__).resolve().parent.parent


def _fake_v2(tmp_path: Path, cpu_max: str, rel: str = "/user.slice/kernel") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    (root / rel.strip("/")).mkdir(parents=True)
    (root / rel.strip("/") / "cpu.max").write_text(cpu_max + "\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text(f"0::{rel}\n")
    return root, proc


def test_cgroup_v2_quota(tmp_path):
    root, proc = _fake_v2(tmp_path, "250000 100000")
    cpus, where = cgroup_cpu_limit(root, proc)
    assert cpus == 2.5 and where == root / "user.slice" / "kernel" / "cpu.max"


def test_cgroup_v2_unlimited_and_parent_limit(tmp_path):
    root, proc = _fake_v2(tmp_path, "max 100000")
    assert cgroup_cpu_limit(root, proc) is None
    (root / "user.slice" / "cpu.max").write_text("100000 100000\n")  # a parent's quota binds the child
    assert cgroup_cpu_limit(root, proc) == (1.0, root / "user.slice" / "cpu.max")


def test_cgroup_v1_quota(tmp_path):
    folder = tmp_path / "cgroup" / "cpu,cpuacct" / "docker" / "abc"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_cpu_limit(tmp_path / "cgroup", proc) == (3.0, folder / "cpu.cfs_quota_us")
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path / "cgroup", proc) is None


def test_share_sources_in_order(tmp_path, monkeypatch):
    root, proc = _fake_v2(tmp_path, "100000 100000")
    for name in ("LMLAB_THREADS", "OMP_NUM_THREADS", "CPU_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("lmlab.threads.available_cores", lambda: 16)
    share = thread_share(root, proc)
    assert (share.threads, share.limited) == (1, True) and "cgroup CPU quota 1" in share.source
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert (thread_share(root, proc).threads, thread_share(root, proc).source) == (3, "OMP_NUM_THREADS")
    monkeypatch.setenv("LMLAB_THREADS", "2")
    assert (thread_share(root, proc).threads, thread_share(root, proc).source) == (2, "LMLAB_THREADS")
    monkeypatch.delenv("LMLAB_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    (root / "user.slice" / "kernel" / "cpu.max").write_text("max 100000\n")
    monkeypatch.setenv("CPU_LIMIT", "4.0")  # what JupyterHub's spawner sets from cpu_limit
    assert thread_share(root, proc).threads == 4 and "CPU_LIMIT" in thread_share(root, proc).source
    monkeypatch.delenv("CPU_LIMIT")
    share = thread_share(root, proc)
    assert (share.threads, share.limited) == (16, False)


def test_bad_lmlab_threads_is_one_line_exit_2(tmp_path):
    env = {**os.environ, "LMLAB_THREADS": "many", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "lmlab", "data", "list"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("lmlab: error: LMLAB_THREADS='many' is not a number of threads; set it to "
                                   "a whole number >= 1 or unset it")


@pytest.mark.slow
def test_kernel_with_lmlab_threads_reports_and_uses_two(tmp_path):
    """A real kernel (a subprocess) started with LMLAB_THREADS=2 says so in setup() and runs torch and BLAS
    on 2 threads, though OMP_NUM_THREADS=1 came with it."""
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "LMLAB_THREADS": "2", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
           "MPLBACKEND": "agg"}
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        out: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        code = ("from lmlab.notebook import setup\nlab = setup(preset='smoke')\n"
                "import json, torch, threadpoolctl\n"
                "blas = sorted({p['num_threads'] for p in threadpoolctl.threadpool_info()})\n"
                "print('RESULT', json.dumps({'torch': torch.get_num_threads(), 'blas': blas}))")
        kc.execute_interactive(code, output_hook=hook, timeout=300)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(out)
    assert "lmlab: CPU threads: 2 (from LMLAB_THREADS)" in text, text
    result = json.loads(text.split("RESULT", 1)[1].strip().splitlines()[0])
    assert result["torch"] == 2 and result["blas"] == [2], result


@pytest.mark.slow
def test_doctor_reports_the_share():
    env = {**os.environ, "LMLAB_THREADS": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "lmlab", "doctor", "--json"], env=env, capture_output=True,
                          text=True, timeout=300)
    report = json.loads(proc.stdout)
    assert report["threads"] == {"share": 2, "source": "LMLAB_THREADS", "limited": True}
    assert report["torch_threads"] == 2
