"""Throughput and peak memory of a model (``benchmark.py``), alone or as a
side-by-side comparison of several variants in one process
(``benchmark.py --compare``)."""
import resource
import statistics
import sys
import threading
import time
from typing import Callable, List, Sequence

import torch
import torch.nn.functional as F


def peak_memory_mb(device: str = 'auto') -> float:
    """Peak memory of this process so far, in MiB: CUDA memory allocated by
    torch when the run is on a GPU, else the resident set size."""
    if device == 'cuda' or (device == 'auto' and torch.cuda.is_available()
                            and torch.cuda.is_initialized()):
        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == 'darwin' else rss / 2**10


def resolve_device(device):
    """``'auto'`` -> ``'cuda'`` if there is a GPU, else ``'cpu'``; an error
    for ``'cuda'`` without one."""
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda given but CUDA is not available')
    return device


def prepare(model,
            inputs,
            device='cpu',
            amp=False,
            channels_last=False,
            compile=False,
            train=False) -> Callable[[], None]:
    """One iteration of ``model`` as a closure: ``model(inputs)`` in eval
    mode (run it under ``torch.inference_mode``), or with ``train=True`` a
    whole training step (train mode, cross-entropy of the flattened output
    against random labels, backward, AdamW step, a gradient scaler under
    float16 autocast). ``compile`` is ``torch.compile(model)``."""
    model = model.to(device).train(train)
    inputs = inputs.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model)
    dtype = torch.float16 if device == 'cuda' else torch.bfloat16
    autocast = torch.autocast(device_type=device, dtype=dtype, enabled=amp)
    if not train:

        def run():
            with autocast:
                model(inputs)

        return run
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(
        device, enabled=amp and dtype == torch.float16)
    labels = None

    def run():
        nonlocal labels
        with autocast:
            out = model(inputs)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        out = out.float().flatten(1)
        if labels is None:
            labels = torch.randint(
                out.shape[1], (len(out), ), device=out.device)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(F.cross_entropy(out, labels)).backward()
        scaler.step(optimizer)
        scaler.update()

    return run


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def _timed(run, iters, device, train):
    """Seconds of ``iters`` calls of ``run``."""
    with torch.enable_grad() if train else torch.inference_mode():
        _sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            run()
        _sync(device)
        return time.perf_counter() - start


def benchmark(model,
              inputs,
              device='cpu',
              amp=False,
              channels_last=False,
              compile=False,
              warmup=3,
              iters=10,
              train=False):
    """Time ``model(inputs)`` in eval mode under inference mode, or with
    ``train=True`` whole training steps (see :func:`prepare`).

    Returns:
        dict: ``images_per_sec``, ``seconds`` (of the timed iterations),
        ``batch_size``, ``iters`` and ``peak_mem_mb``.
    """
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    run = prepare(model, inputs, device, amp, channels_last, compile, train)
    if warmup:
        _timed(run, warmup, device, train)
    seconds = _timed(run, iters, device, train)
    return dict(
        images_per_sec=len(inputs) * iters / seconds,
        seconds=seconds,
        batch_size=len(inputs),
        iters=iters,
        peak_mem_mb=peak_memory_mb(device))


def _rss_mb():
    """Resident set size of this process now, in MiB (Linux)."""
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * (4096 / 2**20)


class _RSSPeak:
    """Highest resident set size while the ``with`` block runs, sampled
    every millisecond by a thread, minus the size when it started: the
    working memory of the iterations inside (CPU)."""

    def __enter__(self):
        self.base = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())
        self.mb = self.peak - self.base


def round_order(n, r):
    """The order in which :func:`compare` times ``n`` variants in round
    ``r``: ``0..n-1`` rotated by ``r``, so that each variant runs at each
    place in turn."""
    return [(j + r) % n for j in range(n)]


def summarize(labels: Sequence[str], seconds: Sequence[Sequence[float]],
              batch_sizes: Sequence[int], iters: int,
              mems: Sequence[float]) -> List[dict]:
    """The result of :func:`compare` from its timings.

    Args:
        labels (list[str]): The variants.
        seconds (list[list[float]]): Per variant, the seconds of its
            ``iters`` timed iterations in each round.
        batch_sizes (list[int]): Images per iteration of each variant.
        iters (int): Timed iterations per variant and round.
        mems (list[float]): Peak memory of each variant, MiB.

    Returns:
        list[dict]: Per variant: ``label``, ``images_per_sec`` (the median
        over the rounds of ``batch * iters / seconds``), ``min`` / ``max``
        (over the rounds), ``ratio`` (its median over the first variant's)
        and ``peak_mem_mb``.
    """
    speeds = [[b * iters / t for t in ts]
              for ts, b in zip(seconds, batch_sizes)]
    base = statistics.median(speeds[0])
    return [
        dict(
            label=label,
            images_per_sec=statistics.median(s),
            min=min(s),
            max=max(s),
            ratio=statistics.median(s) / base,
            peak_mem_mb=m) for label, s, m in zip(labels, speeds, mems)
    ]


def compare(variants: Sequence[dict],
            device='cpu',
            warmup=3,
            iters=10,
            rounds=5,
            train=False) -> List[dict]:
    """Time several variants side by side in this process.

    Every variant is prepared (:func:`prepare`) and warmed up, then
    ``rounds`` rounds each time ``iters`` iterations of every variant in
    turn, the order rotated by one each round (:func:`round_order`), so that
    a noisy machine slows all of them alike; a variant's speed is the median
    over the rounds (:func:`summarize`).

    Args:
        variants (list[dict]): ``label``, ``model``, ``inputs`` and optional
            ``amp``, ``channels_last``, ``compile`` flags.
        device (str): ``'cpu'`` or ``'cuda'``.
        warmup (int): Untimed iterations of each variant first (these are
            where ``torch.compile`` compiles).
        iters (int): Timed iterations per variant and round.
        rounds (int): Interleaved rounds.
        train (bool): Time training steps instead of inference.

    Returns:
        list[dict]: Per variant in the given order: ``label``,
        ``images_per_sec`` (median), ``min``/``max`` (over the rounds),
        ``ratio`` (to the first variant's median) and ``peak_mem_mb``: on a
        GPU the peak CUDA memory allocated during its iterations, on the CPU
        the highest rise of the process's resident set size above where it
        was when its warm-up began (activations, workspaces, optimizer
        state).
    """
    if rounds < 1 or iters < 1 or warmup < 0:
        raise ValueError('compare needs rounds >= 1, iters >= 1, warmup >= 0')
    runs, mems, batch = [], [], []
    for v in variants:
        run = prepare(v['model'], v['inputs'], device, v.get('amp', False),
                      v.get('channels_last', False), v.get('compile', False),
                      train)
        if device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            _timed(run, max(warmup, 1), device, train)
            mems.append((torch.cuda.max_memory_allocated() - base) / 2**20)
        else:
            with _RSSPeak() as peak:
                _timed(run, max(warmup, 1), device, train)
            mems.append(peak.mb)
        runs.append(run)
        batch.append(len(v['inputs']))
    seconds = [[] for _ in variants]
    for r in range(rounds):
        for i in round_order(len(variants), r):
            seconds[i].append(_timed(runs[i], iters, device, train))
    return summarize([v['label'] for v in variants], seconds, batch, iters,
                     mems)
