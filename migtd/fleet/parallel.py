"""Worker processes for large matrices: quote verification and class-pair evaluation spread over cores.

Both phases are CPU-bound pure functions, so on a large fleet they run in a
pool of ``spawn``-started processes (never ``fork``: the console calls the
matrix from a thread, and forking a threaded process is unsafe). Each worker
receives what it needs once, at start-up (the anchors; or the evaluator's
inputs and the class representatives), then small tasks: a batch of quotes,
or a range of source classes. Results come back in submission order, so the
matrix is identical to the in-process one (tests compare them).

Below the thresholds the pool's start-up (a Python and its imports per
worker) costs more than it saves, and the caller stays in process.

This module sits below :mod:`migtd.fleet.matrix` and never imports it: the
matrix hands over its evaluator's class (pickled by reference, so each
worker builds its own) and its class states as opaque values.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol

from migtd.errors import MigtdError

if TYPE_CHECKING:
    from migtd.fleet.config_files import PolicySpec
    from migtd.fleet.hosts import FleetHost
    from migtd.fleet.profile import Anchors, Attestation

#: Quotes per verification task, and tasks in flight per worker (bounds memory while files stream in).
BATCH = 128
IN_FLIGHT = 3
#: Below these, work stays in process.
MIN_HOSTS = 1500
MIN_CLASS_PAIRS = 2500

Atts = dict[tuple[bytes, bytes], "Attestation"]


class PairEvaluator(Protocol):
    """What :func:`pair_rows` needs of the matrix's evaluator (``migtd.fleet.matrix.Evaluator``)."""

    source: PolicySpec
    destination: PolicySpec

    def outcome(self, source: Any, destination: Any) -> tuple[Any, ...]:
        """The outcome of one class pair (first item), and what explains it."""
        ...


#: Builds a worker's evaluator from the two policies and the v1 anchors (the evaluator's class).
EvaluatorFactory = Callable[["PolicySpec", "PolicySpec", "Anchors | None"], PairEvaluator]

_ANCHORS: list[Anchors] = []
_EVALUATOR: PairEvaluator | None = None
_STATES: list[Any] = []


def _pool(workers: int, initializer: Callable[..., None], args: tuple[Any, ...]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=args)


def _broken(exc: BaseException) -> MigtdError:
    return MigtdError(f"a fleet worker process ended unexpectedly ({exc or type(exc).__name__}); "
                      "run again with --jobs 1")


# --------------------------------------------------------------------------- verification


def _init_verify(anchors: list[Anchors]) -> None:
    _ANCHORS[:] = anchors


def _verify_batch(quotes: list[bytes | None]) -> list[Atts | None]:
    from migtd.fleet.profile import AttestationCache

    cache = AttestationCache()
    return [None if q is None else {a.key: cache.get(q, a) for a in _ANCHORS} for q in quotes]


def attest_stream(hosts: Iterable[FleetHost], anchors: list[Anchors], workers: int
                  ) -> Iterator[tuple[FleetHost, Atts]]:
    """Each host with its quote judged under every anchor set, in input order, verified in ``workers`` processes."""
    pending: deque[tuple[list[FleetHost], Future[list[Atts | None]]]] = deque()

    def drain() -> Iterator[tuple[FleetHost, Atts]]:
        batch, future = pending.popleft()
        try:
            results = future.result()
        except BrokenProcessPool as exc:
            raise _broken(exc) from None
        for host, atts in zip(batch, results):
            yield host, atts or {}

    with _pool(workers, _init_verify, (anchors,)) as pool:
        batch: list[FleetHost] = []
        for host in hosts:
            batch.append(host)
            if len(batch) == BATCH:
                pending.append((batch, pool.submit(_verify_batch, [h.evidence.quote if h.evidence else None
                                                                   for h in batch])))
                batch = []
                while len(pending) > IN_FLIGHT * workers:
                    yield from drain()
        if batch:
            pending.append((batch, pool.submit(_verify_batch, [h.evidence.quote if h.evidence else None
                                                               for h in batch])))
        while pending:
            yield from drain()


# --------------------------------------------------------------------------- class pairs


def _init_pairs(factory: EvaluatorFactory, source: PolicySpec, destination: PolicySpec,
                v1_anchors: Anchors | None, states: list[Any]) -> None:
    global _EVALUATOR
    _EVALUATOR = factory(source, destination, v1_anchors)
    _STATES[:] = states


def _rows(first: int, last: int) -> list[list[Any]]:
    assert _EVALUATOR is not None
    return [[_EVALUATOR.outcome(_STATES[i], dst)[0] for dst in _STATES] for i in range(first, last)]


def pair_rows(evaluator: PairEvaluator, v1_anchors: Anchors | None, states: list[Any], workers: int
              ) -> Iterator[list[Any]]:
    """Each source class's row of outcomes, in order, evaluated in ``workers`` processes.

    Each worker builds its own evaluator of ``evaluator``'s class from the same
    policies and anchors, so the rows equal the in-process ones.
    """
    n = len(states)
    step = max(1, min(16, n // (workers * 4) or 1))
    args = (type(evaluator), evaluator.source, evaluator.destination, v1_anchors, states)
    with _pool(workers, _init_pairs, args) as pool:
        futures = [pool.submit(_rows, i, min(i + step, n)) for i in range(0, n, step)]
        for future in futures:
            try:
                yield from future.result()
            except BrokenProcessPool as exc:
                raise _broken(exc) from None
