"""Fair CPU shares: how many threads this kernel may use, and limiting torch, BLAS and numba to it.

Thirty kernels on a 16-core class server, each starting torch with 16 threads, spend their time swapping
threads instead of computing. Each lmlab process therefore takes its share, from the first of:

1. ``LMLAB_THREADS`` (the class server sets it per user: ``lmlab hub --threads-per-user``);
2. ``OMP_NUM_THREADS`` (someone chose already: respected);
3. the CPU quota of this process's cgroup (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``): a container's
   or a Kubernetes pod's CPU limit (Zero to JupyterHub's ``singleuser.cpu.limit``), or systemd's CPUQuota;
4. ``CPU_LIMIT``, which JupyterHub's spawners put in a user's environment when ``cpu_limit`` is set;
5. otherwise every core this process may run on (nothing is limited).

``apply_thread_share()`` runs once where lmlab starts (``lmlab.notebook.setup`` and the ``lmlab`` command);
``lmlab doctor`` reports the number and where it came from.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from lmlab.say import learner_text

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
# read by OpenMP (torch's intra-op pool), MKL, OpenBLAS, BLIS and numba when they load
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
              "NUMBA_NUM_THREADS")


@dataclass(frozen=True)
class ThreadShare:
    """How many threads, and where that number came from (``LMLAB_THREADS``, a cgroup file, ...)."""

    threads: int
    source: str
    limited: bool  # False: the whole machine (nothing to limit)

    def describe(self) -> str:
        return f"{self.threads} thread{'s' * (self.threads != 1)} (from {self.source})"


def _positive_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        from lmlab.errors import UsageError

        raise UsageError(f"{name}={value!r} is not a number of threads; set it to a whole number >= 1 "
                         "or unset it")
    return n


def _read_quota_v2(folder: Path) -> float | None:
    """CPUs allowed by ``folder/cpu.max`` ("QUOTA PERIOD" in microseconds, or "max PERIOD")."""
    try:
        quota, _, period = (folder / "cpu.max").read_text().strip().partition(" ")
    except OSError:
        return None
    if quota == "max" or not quota:
        return None
    return int(quota) / int(period or 100_000)


def _read_quota_v1(folder: Path) -> float | None:
    """CPUs allowed by ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (a quota of -1: unlimited)."""
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text().strip())
        period = int((folder / "cpu.cfs_period_us").read_text().strip())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _ancestors(root: Path, rel: str) -> list[Path]:
    """``root/rel`` and each parent up to ``root``: a parent's quota limits its children too."""
    parts = [p for p in rel.strip("/").split("/") if p and p != ".."]
    return [root.joinpath(*parts[:k]) for k in range(len(parts), -1, -1)]


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> tuple[float, Path] | None:
    """The CPU quota of this process's cgroup as (CPUs, the file that says so), or None when unlimited.

    Reads cgroup v2 (``0::/path`` in ``/proc/self/cgroup``, ``cpu.max``) or v1 (the ``cpu`` controller's
    ``cpu.cfs_quota_us``); the tightest quota from the process's group up to the root wins."""
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        lines = ["0::/"]
    found: list[tuple[float, Path]] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, rel = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # v2 (unified), maybe mounted at root/unified beside v1
            for base in (root, root / "unified"):
                for folder in _ancestors(base, rel):
                    cpus = _read_quota_v2(folder)
                    if cpus is not None:
                        found.append((cpus, folder / "cpu.max"))
        elif "cpu" in controllers.split(","):
            for name in (controllers, "cpu", "cpu,cpuacct", "cpuacct,cpu"):
                for folder in _ancestors(root / name, rel):
                    cpus = _read_quota_v1(folder)
                    if cpus is not None:
                        found.append((cpus, folder / "cpu.cfs_quota_us"))
    return min(found, key=lambda f: f[0]) if found else None


def available_cores() -> int:
    """Cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _whole(cpus: float) -> int:
    return max(1, math.floor(cpus))  # 1.5 CPUs of quota: one busy thread, never zero


def thread_share(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> ThreadShare:
    """This process's share of the CPU, and where it came from (see the module's docstring)."""
    cores = available_cores()
    for name in ("LMLAB_THREADS", "OMP_NUM_THREADS"):
        n = _positive_int(name)
        if n is not None:
            return ThreadShare(n, name, True)
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None and _whole(quota[0]) < cores:
        source = learner_text("cgroup CPU quota {cpus:g} in {path}", cpus=quota[0], path=quota[1])
        return ThreadShare(_whole(quota[0]), source, True)
    limit = os.environ.get("CPU_LIMIT", "").strip()
    try:
        cpus = float(limit) if limit else None
    except ValueError:
        cpus = None
    if cpus is not None and cpus > 0 and _whole(cpus) < cores:
        return ThreadShare(_whole(cpus), learner_text("CPU_LIMIT={limit} (set by JupyterHub's spawner)",
                                                      limit=limit), True)
    return ThreadShare(cores, learner_text("all cores of this machine: no limit set"), False)


def apply_thread_share() -> ThreadShare:
    """Limit torch, BLAS (threadpoolctl) and numba to this process's share, once, and return it.

    Libraries not loaded yet read the environment variables set here when they load (torch reads
    ``OMP_NUM_THREADS``), so the ``lmlab`` command calls this before importing torch."""
    share = thread_share()
    if not share.limited:
        return share
    n = share.threads
    for name in THREAD_ENV:
        # numba re-reads NUMBA_NUM_THREADS at every compile and refuses a new value once its pool runs:
        # a loaded numba is limited through set_num_threads below instead
        if name != "NUMBA_NUM_THREADS" or "numba" not in sys.modules:
            os.environ[name] = str(n)
    if "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            threadpool_limits(limits=n)  # BLAS and OpenMP pools already loaded (numpy's, scipy's)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return share
