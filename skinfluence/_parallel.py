"""Chunked work dispatched through joblib, with progress reporting.

Every expensive loop of the explainer (test points in ``influence``, training
rows in the leverage computation of the matrix-free solvers) is a map over
chunks of rows. :func:`map_chunks` sends the chunks through
``joblib.Parallel``, so the backend is whatever the caller configured:
processes by default, a Dask cluster under
``with joblib.parallel_config(backend="dask"):``. Results come back in order.
"""

import itertools
import sys
import time

from joblib import Parallel, delayed, effective_n_jobs

#: ``verbose="auto"`` shows progress when the first chunk predicts a total
#: time above this many seconds.
PROGRESS_AFTER_SECONDS = 10.0


def n_workers(n_jobs, n_tasks):
    """Workers to start for ``n_tasks`` chunks: joblib's count, never more than the chunks."""
    return max(1, min(effective_n_jobs(n_jobs), n_tasks))


def split_for_workers(chunks, n_jobs):
    """Refine a list of slices so that every worker gets at least one.

    ``row_chunks`` sizes chunks by memory; with few large chunks and several
    workers, each chunk is cut into ``⌈n_workers / len(chunks)⌉`` pieces (no
    piece smaller than one row: never more workers than rows).
    """
    n_rows = sum(c.stop - c.start for c in chunks)
    workers = n_workers(n_jobs, n_rows)
    if workers <= 1 or len(chunks) >= workers:
        return chunks
    pieces = -(-workers // max(len(chunks), 1))
    out = []
    for c in chunks:
        size = max(1, -(-(c.stop - c.start) // pieces))
        out.extend(slice(s, min(s + size, c.stop)) for s in range(c.start, c.stop, size))
    return out


def _progress(iterable, total, desc, verbose):
    """Progress over finished chunks: tqdm when installed, else lines on stderr.

    ``verbose=0`` is silent; ``>= 1`` always reports; ``"auto"`` reports once
    the first chunk predicts more than ``PROGRESS_AFTER_SECONDS`` in all.
    """
    if not verbose or total <= 1:
        yield from iterable
        return
    start = time.perf_counter()
    iterator = iter(iterable)
    if verbose == "auto":
        try:
            first = next(iterator)
        except StopIteration:
            return
        if (time.perf_counter() - start) * total <= PROGRESS_AFTER_SECONDS:
            yield first
            yield from iterator
            return
        iterator = itertools.chain([first], iterator)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        for done, item in enumerate(iterator, 1):
            print(
                f"[skinfluence] {desc}: {done}/{total} chunks, "
                f"{time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            yield item
        return
    yield from tqdm(iterator, total=total, desc=f"skinfluence: {desc}", unit="chunk")


def map_chunks(func, chunks, *, n_jobs=None, verbose=0, desc="working", out=None,
               in_place=False):
    """``[func(c) for c in chunks]`` through joblib, in order, with progress.

    Parameters
    ----------
    func : callable
        Must be picklable (a module-level function or a ``functools.partial``
        of one) for process and Dask backends.
    chunks : list of slice
    n_jobs : int, default=None
        joblib semantics; None means one worker unless a
        ``joblib.parallel_config`` context says otherwise. Never more workers
        are started than there are chunks.
    verbose : int or "auto", default=0
        Progress reporting, see ``_progress``.
    desc : str
        What is being computed, for the progress bar.
    out : ndarray, default=None
        When given, each chunk's result is written into ``out[chunk]`` as it
        arrives (nothing is kept or concatenated: peak memory is ``out`` plus
        the chunks in flight) and ``out`` is returned.
    in_place : bool, default=False
        With ``out``: ``func`` is called as ``func(chunk, dest)``. In this
        process (one worker) ``dest`` is the view ``out[chunk]``, which
        ``func`` fills itself (no chunk-sized result, no copy); workers of a
        parallel backend get ``dest=None`` and return the chunk, copied into
        ``out[chunk]`` as it arrives.

    Returns
    -------
    list of results, or ``out``
    """
    chunks = list(chunks)
    serial = effective_n_jobs(n_jobs) == 1 or not chunks
    if in_place and out is None:
        raise ValueError("map_chunks(in_place=True) needs out=.")
    if serial and in_place:
        for _ in _progress((func(c, out[c]) for c in chunks), len(chunks), desc, verbose):
            pass  # each call filled its slice of out; nothing is kept
        return out
    args = (None,) if in_place else ()
    if serial:
        results = (func(c, *args) for c in chunks)
    else:
        parallel = Parallel(n_jobs=n_workers(n_jobs, len(chunks)), return_as="generator")
        results = parallel(delayed(func)(c, *args) for c in chunks)
    results = _progress(results, len(chunks), desc, verbose)
    if out is None:
        return list(results)
    results = iter(results)
    for c in chunks:
        out[c] = next(results)  # no reference kept: one chunk alive at a time
    return out
