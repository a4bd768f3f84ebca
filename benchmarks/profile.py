"""Profile one layer's workload with cProfile: where does repokit's time go?

``uv run python -m benchmarks.profile --backend sqlite --workload W3 [--n 2000] [--layer repokit]``
prints the top functions by cumulative and by own time. W3–W8 first run W1
and W2 (unprofiled) to load the data they read.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats

from benchmarks.model import Workload
from benchmarks.runner import server_for, subjects_for
from benchmarks.subject import WORKLOADS

__all__ = ["main"]


async def _profile(backend: str, url: str, layer: str, wid: str, n: int, top: int) -> None:
    data = Workload.build(n)
    subjects = {s.name: s for s in subjects_for(backend, url)}
    repokit = subjects["repokit"]
    await repokit.open()
    subject = subjects[layer]
    if subject is not repokit:
        await subject.open()
    try:
        await subject.reset()
        for before in WORKLOADS:
            if before == wid:
                break
            await subject.run(before, data)
        profiler = cProfile.Profile()
        profiler.enable()
        await subject.run(wid, data)
        profiler.disable()
    finally:
        if subject is not repokit:
            await subject.close()
        await repokit.close()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--workload", default="W3", choices=list(WORKLOADS))
    parser.add_argument("--layer", default="repokit")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    with server_for(args.backend) as url:
        asyncio.run(_profile(args.backend, url, args.layer, args.workload, args.n, args.top))


if __name__ == "__main__":
    main()
