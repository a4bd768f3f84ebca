"""Profile one layer's workload with cProfile: where does repokit's time go?

``uv run python -m benchmarks.profile --backend sqlite --workload W3 [--n 2000] [--layer repokit]``
prints the top functions by cumulative and by own time. A workload first runs
the ones before it (unprofiled) to load the data it reads. W9 (concurrent) is
profiled under the event loop: the profile covers every task's coroutine
steps on the loop's thread (not aiosqlite's worker threads); its pool is
opened and warmed before profiling starts. ``--backend`` takes the runner's
names (``sqlite-normal``, …).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats

from benchmarks.model import Workload
from benchmarks.runner import server_for, subjects_for
from benchmarks.subject import RUN_ORDER

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
        for before in RUN_ORDER:
            if before == wid:
                break
            await subject.before(before, data)
            await subject.run(before, data)
            await subject.after(before)
        await subject.before(wid, data)
        profiler = cProfile.Profile()
        profiler.enable()
        await subject.run(wid, data)
        profiler.disable()
        await subject.after(wid)
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
    parser.add_argument("--workload", default="W3", choices=list(RUN_ORDER))
    parser.add_argument("--layer", default="repokit")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    with server_for(args.backend) as url:
        asyncio.run(_profile(args.backend, url, args.layer, args.workload, args.n, args.top))


if __name__ == "__main__":
    main()
