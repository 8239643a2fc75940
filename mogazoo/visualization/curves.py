"""Learning curves of mmengine runs, read from their ``scalars.json``.

mmengine's ``LoggerHook`` writes ``<work_dir>/<timestamp>/vis_data/
scalars.json``, one JSON object a line. A training record has ``loss``,
``lr``, ``epoch``, ``iter`` and ``step`` (the iteration); a validation
record has the metrics (``accuracy/top1`` ...) and ``step`` (the epoch for
an epoch-based loop, the iteration for an iteration-based one), no
``iter``. Both kinds also carry ``time`` and ``data_time``: a key found in
training records is plotted from those only, any other key from the
records that have it.

    >>> from mogazoo.visualization import plot_curves
    >>> data = plot_curves(['work_dirs/a', 'work_dirs/b'],
    ...                    ['loss', 'accuracy/top1'], out='curves.png')
    >>> data['curves']['loss']['a']['step'][:3]
    [10, 20, 30]

Plots use matplotlib's Agg canvas directly (no pyplot, no global backend
change).
"""
import json
import math
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence

#: The file mmengine's LocalVisBackend writes the scalars to.
SCALARS = osp.join('vis_data', 'scalars.json')
#: Keys plotted when none are asked for (those found in some run).
DEFAULT_KEYS = ('loss', 'lr', 'accuracy/top1')
#: Keys shown as percentages on a 0-100 axis, their best point marked.
PERCENT_KEYS = ('accuracy/', 'single-label/', 'multi-label/', 'mIoU', 'mAcc',
                'aAcc')
#: A positive curve whose largest value is this many times its smallest is
#: drawn on a log axis.
LOG_SPAN = 10.
#: Bookkeeping keys of every record, never curves themselves.
INDEX_KEYS = ('step', 'epoch', 'iter')


def find_scalars(path: str) -> str:
    """The ``scalars.json`` of a run.

    Args:
        path (str): A run folder (``<work_dir>/<timestamp>``, holding
            ``vis_data/scalars.json``), a work dir holding timestamped run
            folders (the latest is taken: the largest name, as mmengine's
            ``%Y%m%d_%H%M%S`` timestamps sort, then the newest file), or the
            ``scalars.json`` file itself.

    Returns:
        str: The path of the ``scalars.json``.

    Raises:
        FileNotFoundError: ``path`` does not exist, or holds no
            ``scalars.json`` where runs keep it.
    """
    if not osp.exists(path):
        raise FileNotFoundError(f'Work dir not found: {path}')
    if osp.isfile(path):
        return path
    own = osp.join(path, SCALARS)
    if osp.isfile(own):
        return own
    runs = [
        osp.join(path, name, SCALARS) for name in sorted(os.listdir(path))
        if osp.isfile(osp.join(path, name, SCALARS))
    ]
    if not runs:
        raise FileNotFoundError(
            f'No scalars.json in {path}: looked for {own} and '
            f'{osp.join(path, "<timestamp>", SCALARS)} (was the run logged '
            'with mmengine\'s LocalVisBackend?)')
    return max(runs, key=lambda p: (_run_name(p), osp.getmtime(p)))


def _run_name(scalars: str) -> str:
    """The run folder name (the timestamp) of a ``scalars.json``."""
    return osp.basename(osp.dirname(osp.dirname(osp.abspath(scalars))))


def runs_in(path: str) -> List[str]:
    """The run folders of a work dir that have a ``scalars.json`` (sorted
    by name), or ``[path]`` for a run folder itself.

    Args:
        path (str): A work dir or a run folder.

    Returns:
        list[str]: Run folders.
    """
    if osp.isfile(osp.join(path, SCALARS)) or not osp.isdir(path):
        return [path]
    return [
        osp.join(path, name) for name in sorted(os.listdir(path))
        if osp.isfile(osp.join(path, name, SCALARS))
    ]


def load_scalars(path: str) -> List[dict]:
    """The records of a ``scalars.json``, in file order.

    Lines that are not a JSON object (e.g. the last line of a run killed
    while writing) are skipped with a warning naming file and line.

    Args:
        path (str): The file.

    Returns:
        list[dict]: One dict per line.
    """
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                record = exc
            if not isinstance(record, dict):
                warnings.warn(f'{path}:{lineno}: not a JSON object, skipped')
                continue
            records.append(record)
    return records


def is_train_record(record: dict) -> bool:
    """Whether a record was logged by a training iteration (it has
    ``iter``; validation and test records have not)."""
    return 'iter' in record


def curve(records: Sequence[dict], key: str) -> Optional[dict]:
    """The points of ``key`` in a run's records: from its training records
    if any has the key, else from every record that has it.

    Args:
        records (Sequence[dict]): A run's records (:func:`load_scalars`).
        key (str): The scalar, e.g. ``'loss'`` or ``'accuracy/top1'``.

    Returns:
        dict | None: ``{'step': [...], 'value': [...], 'train': bool}``
        (``step``: the record's ``step``, else its position among the
        records of the key, from 1), or None when no record has the key.
    """
    train = [r for r in records if key in r and is_train_record(r)]
    chosen = train or [r for r in records if key in r]
    if not chosen:
        return None
    steps = [r.get('step', i) for i, r in enumerate(chosen, 1)]
    values = [_number(r[key]) for r in chosen]
    return dict(step=steps, value=values, train=bool(train))


def is_epoch_based(records: Sequence[dict]) -> bool:
    """Whether a run's loop counts epochs: mmengine's epoch-based loop logs
    ``epoch`` in its training records, and its validation records' ``step``
    is then the epoch (the iteration for an iteration-based loop)."""
    return any('epoch' in r for r in records if is_train_record(r))


def is_percent(key: str) -> bool:
    """Whether ``key`` is a metric in percent (:data:`PERCENT_KEYS`)."""
    return any(key == k or (k.endswith('/') and key.startswith(k))
               for k in PERCENT_KEYS)


def axis_style(key: str, per_run: Dict, epoch_based: bool) -> dict:
    """How a key's subplot is drawn, from its points: ``xlabel`` (the unit
    its steps count: ``'iteration'`` for training records, else ``'epoch'``
    for epoch-based runs), ``ylim`` ((0, 100) for a percentage), ``yscale``
    (``'log'`` for a positive curve spanning :data:`LOG_SPAN` or more) and
    ``best`` (``{label: (step, value)}`` of the highest point of a
    percentage, else None).

    Args:
        key (str): The scalar.
        per_run (dict): ``{label: curve}`` (see :func:`curve`).
        epoch_based (bool): Every run's loop counts epochs.
    """
    train = all(p['train'] for p in per_run.values())
    xlabel = 'iteration' if train or not epoch_based else 'epoch'
    values = [
        v for p in per_run.values() for v in p['value'] if not math.isnan(v)
    ]
    style = dict(xlabel=xlabel, ylim=None, yscale='linear', best=None)
    if is_percent(key) and values and 0 <= min(values) and max(values) <= 100:
        style['ylim'] = (0, 100)
        style['best'] = {}
        for label, p in per_run.items():
            pairs = [(s, v) for s, v in zip(p['step'], p['value'])
                     if not math.isnan(v)]
            if pairs:
                style['best'][label] = max(pairs, key=lambda sv: sv[1])
    elif values and min(values) > 0 and max(values) >= LOG_SPAN * min(values):
        style['yscale'] = 'log'
    return style


def _number(value) -> float:
    """A record's value as a float (NaN for what is not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def scalar_keys(records: Sequence[dict]) -> List[str]:
    """The keys of a run's records that are curves (all but
    :data:`INDEX_KEYS`), sorted."""
    return sorted({k for r in records for k in r} - set(INDEX_KEYS))


def _labels(scalars: Sequence[str], work_dirs: Sequence[str]) -> List[str]:
    """Default line labels: the work dir names, with the run name added
    where two are alike."""
    names = [
        osp.basename(osp.normpath(d)) or osp.normpath(d) for d in work_dirs
    ]
    if len(set(names)) < len(names):
        names = [f'{n}/{_run_name(s)}' for n, s in zip(names, scalars)]
    if len(set(names)) < len(names):
        names = [f'{n} [{i}]' for i, n in enumerate(names)]
    return names


def read_runs(work_dirs: Sequence[str],
              labels: Optional[Sequence[str]] = None) -> List[dict]:
    """The runs of ``work_dirs``, read.

    Args:
        work_dirs (Sequence[str]): Run folders, work dirs or
            ``scalars.json`` files (see :func:`find_scalars`).
        labels (Sequence[str], optional): A label per run. Defaults to None:
            the work dir names (with the run name where two are alike).

    Returns:
        list[dict]: Per run ``{'label', 'work_dir', 'scalars' (the file),
        'run' (its run folder name), 'latest_of' (how many runs its work dir
        holds), 'records'}``.

    Raises:
        FileNotFoundError: See :func:`find_scalars`.
        ValueError: No work dir, or not one label per work dir.
    """
    if not work_dirs:
        raise ValueError('No work dir given')
    if labels is not None and len(labels) != len(work_dirs):
        raise ValueError(f'{len(labels)} labels for {len(work_dirs)} work '
                         f'dirs: give one label per work dir')
    scalars = [find_scalars(d) for d in work_dirs]
    labels = list(labels) if labels is not None else _labels(
        scalars, work_dirs)
    return [
        dict(
            label=label,
            work_dir=d,
            scalars=s,
            run=_run_name(s),
            latest_of=len(runs_in(d)) if osp.isdir(d) else 1,
            records=load_scalars(s))
        for d, s, label in zip(work_dirs, scalars, labels)
    ]


def collect_curves(runs: Sequence[dict], keys: Sequence[str]) -> Dict:
    """The points of each key in each run.

    Args:
        runs (Sequence[dict]): Runs from :func:`read_runs`.
        keys (Sequence[str]): The scalars.

    Returns:
        dict: ``{key: {label: curve}}`` (see :func:`curve`); a run without
        the key is left out of the key's dict (with a warning).

    Raises:
        ValueError: No keys, or a key that no run has (the message lists the
            keys the runs have).
    """
    if not keys:
        raise ValueError('No keys to plot')
    curves = {}
    for key in keys:
        per_run = {}
        for run in runs:
            points = curve(run['records'], key)
            if points is not None:
                per_run[run['label']] = points
        if not per_run:
            known = sorted(set().union(*(scalar_keys(r['records'])
                                         for r in runs)))
            raise ValueError(f'Key {key!r} is in no run '
                             f'({", ".join(r["scalars"] for r in runs)}); '
                             f'the keys logged are: {", ".join(known)}')
        for run in runs:
            if run['label'] not in per_run:
                warnings.warn(f'Key {key!r} is not in run {run["label"]} '
                              f'({run["scalars"]})')
        curves[key] = per_run
    return curves


def plot_curves(work_dirs: Sequence[str],
                keys: Optional[Sequence[str]] = None,
                out: Optional[str] = None,
                labels: Optional[Sequence[str]] = None,
                figsize: Sequence[float] = (8., 3.),
                dpi: int = 100,
                title: Optional[str] = None) -> dict:
    """Plot scalars of one or several runs: one subplot per key (stacked),
    one line per run, ``step`` on the x axis labelled with the unit it
    counts (iteration or epoch); percentages on 0-100 with each run's best
    point marked, positive curves spanning a decade or more (a loss) on a
    log axis (see :func:`axis_style`).

    Args:
        work_dirs (Sequence[str]): Run folders, work dirs (their latest run)
            or ``scalars.json`` files (see :func:`find_scalars`).
        keys (Sequence[str], optional): The scalars, e.g. ``['loss',
            'accuracy/top1']``. Defaults to None: those of
            :data:`DEFAULT_KEYS` found in some run.
        out (str, optional): The PNG to write (its folder is created).
            Defaults to None (no file).
        labels (Sequence[str], optional): A legend label per work dir.
            Defaults to None (the work dir names).
        figsize (Sequence[float]): Width and height in inches of one
            subplot; the figure is ``(width, height * len(keys))`` inches,
            so ``dpi`` times that in pixels. Defaults to ``(8, 3)``.
        dpi (int): Pixels per inch of the PNG. Defaults to 100.
        title (str, optional): Figure title. Defaults to None.

    Returns:
        dict: ``{'figure': matplotlib Figure, 'runs': runs (see
        :func:`read_runs`), 'keys': the keys, 'curves': {key: {label:
        {'step': [...], 'value': [...], 'train': bool}}} (what was
        plotted), 'styles': {key: axis_style}, 'out': out}``.

    Raises:
        FileNotFoundError: A work dir that does not exist or has no
            ``scalars.json``.
        ValueError: A key in no run (the message lists the logged keys),
            not one label per work dir, or a bad ``figsize``.
    """
    if len(figsize) != 2 or min(figsize) <= 0:
        raise ValueError(f'figsize must be (width, height) > 0, got '
                         f'{figsize!r}')
    runs = read_runs(work_dirs, labels)
    if keys is None:
        logged = {k for r in runs for k in scalar_keys(r['records'])}
        keys = [k for k in DEFAULT_KEYS if k in logged]
        if not keys:
            raise ValueError(f'None of the default keys {list(DEFAULT_KEYS)} '
                             f'is logged; choose among: '
                             f'{", ".join(sorted(logged))}')
    keys = list(dict.fromkeys(keys))
    curves = collect_curves(runs, keys)

    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.figure import Figure
    width, height = figsize
    fig = Figure(figsize=(width, height * len(keys)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    epoch_based = all(is_epoch_based(r['records']) for r in runs)
    styles = {}
    for ax, key in zip(axes, keys):
        per_run = curves[key]
        style = styles[key] = axis_style(key, per_run, epoch_based)
        for i, run in enumerate(runs):
            points = per_run.get(run['label'])
            if points is None:
                continue
            color = f'C{i % 10}'  # a run's colour in every subplot
            ax.plot(
                points['step'],
                points['value'],
                color=color,
                marker='o' if len(points['step']) < 20 else None,
                markersize=3,
                label=run['label'])
            best = (style['best'] or {}).get(run['label'])
            if best is not None:
                # a scatter, not a line: the lines are the runs' curves
                ax.scatter(*best, marker='*', s=120, color=color, zorder=3)
                ax.annotate(
                    f'best {best[1]:.2f} % ({style["xlabel"]} '
                    f'{best[0]})',
                    best,
                    xytext=(4, -12),
                    textcoords='offset points',
                    fontsize='small',
                    color=color)
        ax.set(
            xlabel=style['xlabel'],
            ylabel=key,
            title=key,
            yscale=style['yscale'])
        if style['ylim'] is not None:
            ax.set_ylim(*style['ylim'])
        ax.grid(True, alpha=0.3)
        if len(runs) > 1 or labels is not None:
            ax.legend(fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if out is not None:
        if osp.dirname(out):
            os.makedirs(osp.dirname(out), exist_ok=True)
        fig.savefig(out, dpi=dpi, format='png')
    return dict(
        figure=fig,
        runs=runs,
        keys=keys,
        curves=curves,
        styles=styles,
        out=out)
