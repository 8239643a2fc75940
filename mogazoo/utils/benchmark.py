"""Throughput and peak memory of a model (``benchmark.py``)."""
import time

import torch
import torch.nn.functional as F

from mogazoo.engine.hooks import peak_memory_mb


def resolve_device(device):
    """``'auto'`` -> ``'cuda'`` if there is a GPU, else ``'cpu'``; an error
    for ``'cuda'`` without one."""
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda given but CUDA is not available')
    return device


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
    ``train=True`` whole training steps (train mode, cross-entropy of the
    flattened output against random labels, backward, AdamW step).

    Returns:
        dict: ``images_per_sec``, ``seconds`` (of the timed iterations),
        ``batch_size``, ``iters`` and ``peak_mem_mb``.
    """
    model = model.to(device).train(train)
    inputs = inputs.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model)
    dtype = torch.float16 if device == 'cuda' else torch.bfloat16
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    autocast = torch.autocast(device_type=device, dtype=dtype, enabled=amp)
    if train:
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

        context = torch.enable_grad()
    else:

        def run():
            with autocast:
                model(inputs)

        context = torch.inference_mode()
    with context:
        for _ in range(warmup):
            run()
        sync()
        start = time.perf_counter()
        for _ in range(iters):
            run()
        sync()
        seconds = time.perf_counter() - start
    return dict(
        images_per_sec=len(inputs) * iters / seconds,
        seconds=seconds,
        batch_size=len(inputs),
        iters=iters,
        peak_mem_mb=peak_memory_mb(device))
