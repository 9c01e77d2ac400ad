"""Chunked work dispatched through joblib, with progress reporting.

Every expensive loop of the explainer (test points in ``influence``, training
rows in the leverage computation of the matrix-free solvers) is a map over
chunks of rows. :func:`map_chunks` sends the chunks through
``joblib.Parallel``, so the backend is whatever the caller configured:
processes by default, a Dask cluster under
``with joblib.parallel_config(backend="dask"):``. Results come back in order.
"""

import sys
import time

from joblib import Parallel, delayed, effective_n_jobs


def split_for_workers(chunks, n_jobs):
    """Refine a list of slices so that every worker gets at least one.

    ``row_chunks`` sizes chunks by memory; with few large chunks and several
    workers, each chunk is cut into ``⌈n_workers / len(chunks)⌉`` pieces.
    """
    workers = effective_n_jobs(n_jobs)
    if workers <= 1 or len(chunks) >= workers:
        return chunks
    pieces = -(-workers // max(len(chunks), 1))
    out = []
    for c in chunks:
        size = max(1, -(-(c.stop - c.start) // pieces))
        out.extend(slice(s, min(s + size, c.stop)) for s in range(c.start, c.stop, size))
    return out


def _progress(iterable, total, desc, verbose):
    """tqdm when installed, else one line per finished chunk on stderr."""
    if not verbose:
        yield from iterable
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        start = time.perf_counter()
        for done, item in enumerate(iterable, 1):
            print(
                f"[skinfluence] {desc}: {done}/{total} chunks, "
                f"{time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            yield item
        return
    yield from tqdm(iterable, total=total, desc=f"skinfluence: {desc}", unit="chunk")


def map_chunks(func, chunks, *, n_jobs=None, verbose=0, desc="working"):
    """``[func(c) for c in chunks]`` through joblib, in order, with progress.

    Parameters
    ----------
    func : callable
        Must be picklable (a module-level function or a ``functools.partial``
        of one) for process and Dask backends.
    chunks : list
    n_jobs : int, default=None
        joblib semantics; None means one worker unless a
        ``joblib.parallel_config`` context says otherwise.
    verbose : int, default=0
        Progress reporting when > 0.
    desc : str
        What is being computed, for the progress bar.
    """
    chunks = list(chunks)
    if effective_n_jobs(n_jobs) == 1 and len(chunks) <= 1:
        return [func(c) for c in chunks]
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    results = parallel(delayed(func)(c) for c in chunks)
    return list(_progress(results, len(chunks), desc, verbose))
