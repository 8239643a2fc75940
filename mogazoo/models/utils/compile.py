"""``torch.compile`` of what a model computes, in place.

One function serves ``tools/train.py --compile``, ``tools/test.py
--compile``, ``mogazoo.get_model(..., compile=True)`` and the mogazoo
variants of ``tools/analysis_tools/official_benchmark.py``, so that what
that benchmark times is what a run gets (``benchmark.py``'s ``compile``
is still plain ``torch.compile(model)`` of the whole module):

* a classifier (mmpretrain's ``ImageClassifier``: ``extract_feat`` and a
  ``head``): ``extract_feat`` (backbone and neck) and the head's
  ``forward`` (pre-logits and classifier), one graph each. Everything the
  classifier computes from an image tensor to logits is compiled; the data
  preprocessor (a list of images stacked, cast and normalized: Python
  around one subtraction and one division) and the losses of the data
  samples stay eager, as do the optimizer steps;
* a detector or segmentor (``backbone`` but no classification head): the
  backbone (their necks and heads take data samples and change shapes from
  image to image);
* any other module: its ``forward``.

Each compiled function is the class's function bound to the module: a
deepcopy (EMA hooks copy the model) rebinds it to the copy, where a
compiled bound method would still run the original's weights. Parameters,
state dict keys and checkpoints are unchanged.

channels_last (``'auto'``: on for a model on the CPU; ``channels_last`` in
``compile_cfg`` decides otherwise): compiled and channels_last was faster
than compiled alone in every measured case on the CPU, or equal (2
threads, batch 16, 224: MogaNet-T training x1.43 vs x1.36 eager, DGMN2-T
x1.43 vs x1.35, FasterViT-0 x1.25 both; FasterViT-0 inference x1.25 vs
x1.17 the official code; ``tools/analysis_tools/official_benchmark.py``);
the first convolution then reads NHWC images, the rest follows. On a GPU
it has not been measured (the GPU kit's tables have the rows), so
``'auto'`` leaves it off there.

``dynamic=False`` (the default here, a keyword in ``compile_cfg`` changes
it): a run meets few batch sizes (training, validation and the last batch
of each), each compiled once into a graph specialized to its shapes.
torch's default would turn the graph dynamic at the second batch size; a
fixed set of static graphs keeps what a benchmark times equal to what a
run executes, and a recompile is bounded by the number of sizes.
"""
import contextlib
import functools
import types

import torch

#: keyword arguments of every compile here (``compile_cfg`` overrides)
DEFAULTS = dict(dynamic=False)
#: mogazoo's own keys of ``compile_cfg`` (not passed to ``torch.compile``)
OPTIONS = dict(channels_last='auto')


def _channels_last(fn):
    """``fn`` with a 4-D tensor argument made channels_last first (inside
    the compiled graph: one copy of the images, then every convolution
    runs on NHWC without reordering)."""

    @functools.wraps(fn)
    def wrapper(self, x, *args, **kwargs):
        if isinstance(x, torch.Tensor) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return fn(self, x, *args, **kwargs)

    return wrapper


def _compile_method(module, name, kwargs, channels_last):
    fn = getattr(type(module), name)
    if not channels_last:
        setattr(module, name,
                types.MethodType(torch.compile(fn, **kwargs), module))
        return
    compiled = torch.compile(_channels_last(fn), **kwargs)

    @functools.wraps(fn)
    def call(self, *args, **kw):
        # the weights go channels_last at the first call, not at compile
        # time: an initialisation (runner.train calls init_weights after
        # the model is built) fills a tensor in memory order, so a seed
        # would otherwise initialise other weights than without --compile
        if not self.__dict__.get('_channels_last_weights'):
            self.to(memory_format=torch.channels_last)
            self.__dict__['_channels_last_weights'] = True
        return compiled(self, *args, **kw)

    setattr(module, name, types.MethodType(call, module))


def channels_last_for(model, option):
    """Whether :func:`compile_model` makes ``model`` channels_last:
    ``option`` True or False, or ``'auto'``: a model on the CPU."""
    if option == 'auto':  # measured on the CPU only (module doc)
        return all(p.device.type == 'cpu' for p in model.parameters())
    return bool(option)


def compile_targets(model):
    """``[(module, method name)]`` that :func:`compile_model` compiles."""
    module = getattr(model, 'module', model)  # DDP and friends
    head = getattr(module, 'head', None)
    if hasattr(module, 'extract_feat') and head is not None and hasattr(
            head, 'pre_logits'):
        return [(module, 'extract_feat'), (head, 'forward')]
    backbone = getattr(module, 'backbone', None)
    if backbone is not None:
        return [(backbone, 'forward')]
    return [(module, 'forward')]


def compile_model(model, compile_cfg=True):
    """Compile ``model`` in place (see the module doc) and return it.

    Args:
        model (nn.Module): A classifier, detector, segmentor or any module,
            possibly wrapped for distributed training (``.module``).
        compile_cfg (bool | dict): True, or keyword arguments of
            ``torch.compile`` (e.g. ``dict(mode='max-autotune')``), on top
            of :data:`DEFAULTS`, and mogazoo's :data:`OPTIONS`:
            ``channels_last`` (True, False or ``'auto'``, the default: True
            for a model on the CPU) puts the compiled modules' 4-D weights
            (at the first call, after any initialisation) and the images
            in channels_last memory format (parameters, their names and
            values unchanged).

    Returns:
        nn.Module: ``model``.
    """
    kwargs, options = dict(DEFAULTS), dict(OPTIONS)
    if compile_cfg is not True:
        compile_cfg = dict(compile_cfg)
        options.update(
            {k: compile_cfg.pop(k)
             for k in OPTIONS if k in compile_cfg})
        kwargs.update(compile_cfg)
    channels_last = channels_last_for(model, options['channels_last'])
    for module, name in compile_targets(model):
        _compile_method(module, name, kwargs, channels_last)
    return model


def uncompiled(model):
    """A context in which ``model`` (compiled by :func:`compile_model`)
    runs its eager functions; the compiled ones are back on exit."""

    @contextlib.contextmanager
    def swap():
        saved = []
        for module, name in compile_targets(model):
            if name in module.__dict__:
                saved.append((module, name, module.__dict__.pop(name)))
        try:
            yield model
        finally:
            for module, name, fn in saved:
                setattr(module, name, fn)

    return swap()


def break_even(extra_seconds, compiled_per_iter, eager_per_iter):
    """Iterations after which compiling has paid for itself: the compile's
    ``extra_seconds`` (its warm-up beyond what eager warm-up iterations
    take) over the seconds it saves per iteration; None if the compiled
    iteration is not faster."""
    if compiled_per_iter >= eager_per_iter:
        return None
    return max(0., extra_seconds) / (eager_per_iter - compiled_per_iter)
