"""mmengine's CheckpointHook with files written atomically."""
import fnmatch
import glob
import hashlib
import os
import os.path as osp
import pickle
import shutil

import torch
from mmengine.dist import is_main_process, master_only
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from mogazoo.checkpoint import load_checkpoint
from mogazoo.utils.atomic_io import (TMP_SUFFIX, atomic_writer, commit_file,
                                     write_atomic)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook`, crash-safe.

    mmengine 0.10.7 writes a checkpoint straight to its final name
    (``LocalBackend.put`` opens ``epoch_N.pth`` for writing), deletes the
    oldest of ``max_keep_ckpts`` and the previous ``best_*.pth`` *before*
    writing the new one, and writes ``last_checkpoint`` (which ``--resume``
    follows) in place. A run killed while saving leaves a partial
    ``epoch_N.pth``, possibly named in ``last_checkpoint``, and has already
    lost a good checkpoint; a save refused by a hook (e.g. the
    :class:`FiniteCheckHook` on NaN weights) has deleted one too.

    This hook keeps every option and the resume state of the parent (same
    arguments, same files, same ``keep_ckpt_ids`` / ``best_ckpt`` /
    ``last_ckpt`` in the message hub) and changes the order:

    1. the runner writes the checkpoint to ``<name>.tmp`` in the same
       folder; its data is fsynced and it is renamed to ``<name>`` with
       ``os.replace`` (atomic), and the folder is fsynced;
    2. only then is ``last_checkpoint`` rewritten (atomically the same way);
    3. only then are the checkpoint that falls out of ``max_keep_ckpts`` and
       the previous best checkpoint deleted.

    ``published_keys`` copies are written atomically as well. A ``.tmp``
    file left by a killed run is never followed by ``--resume`` and is
    removed at the start of the next run in that folder. Checkpoints on
    other storage backends (``backend_args``, ``out_dir`` with a URI) are
    written as by the parent: a remote ``put`` has no partial state to see.

    Args:
        **kwargs: The arguments of :class:`~mmengine.hooks.CheckpointHook`
            (``interval``, ``by_epoch``, ``save_optimizer``,
            ``save_param_scheduler``, ``out_dir``, ``max_keep_ckpts``,
            ``save_last``, ``save_best``, ``rule``, ``greater_keys``,
            ``less_keys``, ``file_client_args``, ``filename_tmpl``,
            ``backend_args``, ``published_keys``, ``save_begin``), with the
            same meaning and defaults.
    """

    # helpers --------------------------------------------------------------
    def _is_local(self):
        backend = getattr(self.file_backend, 'client', self.file_backend)
        return isinstance(backend, LocalBackend)

    def _remove(self, path):
        """Delete the checkpoint file or (DeepSpeed) folder ``path``."""
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
            return True
        if self.file_backend.isdir(path):
            self.file_backend.rmtree(path)
            return True
        return False

    def _write(self, runner, filename, **kwargs):
        """Have the runner save ``filename`` in ``out_dir`` through a
        temporary file, then commit it.

        Args:
            runner (Runner): The runner of the training process.
            filename (str): The checkpoint's file name.
            **kwargs: Keyword arguments of ``runner.save_checkpoint``.
        """
        kwargs.update(
            file_client_args=self.file_client_args,
            backend_args=self.backend_args)
        if not self._is_local():
            runner.save_checkpoint(self.out_dir, filename, **kwargs)
            return
        tmp_path = osp.join(self.out_dir, filename + TMP_SUFFIX)
        try:
            runner.save_checkpoint(self.out_dir, filename + TMP_SUFFIX,
                                   **kwargs)
            if is_main_process():
                commit_file(tmp_path, osp.join(self.out_dir, filename))
        except BaseException as exc:
            # a refused or failed save leaves no part of a file behind
            if is_main_process() and osp.isfile(tmp_path):
                os.remove(tmp_path)
            if isinstance(exc, OSError) and exc.filename is None:
                # a write that fails midway (a full disk) names no file
                raise OSError(exc.errno, exc.strerror, tmp_path) from exc
            raise

    # mmengine's entry points ----------------------------------------------
    def before_train(self, runner):
        """Set up as the parent does, then remove the temporary files a
        killed run left in the checkpoint folder.

        Args:
            runner (Runner): The runner of the training process.
        """
        super().before_train(runner)
        if not (is_main_process() and self._is_local()):
            return
        patterns = {self.filename_tmpl.format('*'), 'best_*', '*.pth'}
        stale = [
            path for path in glob.glob(
                osp.join(glob.escape(self.out_dir), '*' + TMP_SUFFIX)) if any(
                    fnmatch.fnmatch(
                        osp.basename(path)[:-len(TMP_SUFFIX)], pattern)
                    for pattern in patterns)
        ]
        stale += glob.glob(
            osp.join(
                glob.escape(runner.work_dir), f'last_checkpoint{TMP_SUFFIX}'))
        for path in sorted(set(stale)):
            if osp.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            runner.logger.warning(
                f'Removed {path}: a checkpoint an earlier run did not finish '
                'writing')

    def _save_checkpoint_with_step(self, runner, step, meta):
        """Save ``filename_tmpl.format(step)``, then point
        ``last_checkpoint`` at it, then delete the checkpoint that falls out
        of ``max_keep_ckpts``.

        Args:
            runner (Runner): The runner of the training process.
            step (int): The epoch or iteration in the file name.
            meta (dict): The ``meta`` of the checkpoint.
        """
        evicted = None
        kept = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            kept = list(self.keep_ckpt_ids)
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                evicted = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            # in the message hub before saving: the checkpoint resumes with
            # the ids it was saved with, as in the parent
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        previous = self.last_ckpt
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            self._write(
                runner,
                filename,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                **self.args)
        except BaseException:
            # nothing was written: keep the state of the files on disk
            if kept is not None:
                self.keep_ckpt_ids.clear()
                self.keep_ckpt_ids.extend(kept)
                runner.message_hub.update_info('keep_ckpt_ids', kept)
            self.last_ckpt = previous
            if previous is not None:
                runner.message_hub.update_info('last_ckpt', previous)
            raise
        if not is_main_process():
            return
        write_atomic(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if evicted is not None and evicted != step:
            self._remove(
                self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(evicted)))

    def _save_best_checkpoint(self, runner, metrics):
        """Save a ``best_<metric>_<name>`` checkpoint when a metric
        improves, and only then delete the previous best one.

        Args:
            runner (Runner): The runner of the training process.
            metrics (dict): Evaluation results of all metrics.
        """
        if not self.save_best:
            return
        if self.by_epoch:
            ckpt_filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            ckpt_filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])

        single = len(self.key_indicators) == 1
        best_ckpt_updated = False
        for key_indicator, rule in zip(self.key_indicators, self.rules):
            key_score = metrics[key_indicator]
            if single:
                best_score_key, best_ckpt_key = 'best_score', 'best_ckpt'
                old_path = self.best_ckpt_path
            else:
                best_score_key = f'best_score_{key_indicator}'
                best_ckpt_key = f'best_ckpt_{key_indicator}'
                old_path = self.best_ckpt_path_dict[key_indicator]
            hub = runner.message_hub
            best_score = hub.get_info(best_score_key) \
                if best_score_key in hub.runtime_info \
                else self.init_value_map[rule]
            if key_score is None or not self.is_better_than[key_indicator](
                    key_score, best_score):
                continue
            best_ckpt_updated = True
            best_score = key_score
            hub.update_info(best_score_key, best_score)

            name = f'best_{key_indicator}_{ckpt_filename}'.replace('/', '_')
            new_path = self.file_backend.join_path(self.out_dir, name)
            if single:
                self.best_ckpt_path = new_path
            else:
                self.best_ckpt_path_dict[key_indicator] = new_path
            hub.update_info(best_ckpt_key, new_path)
            self._write(
                runner,
                name,
                save_optimizer=False,
                save_param_scheduler=False,
                meta=meta,
                by_epoch=False)
            runner.logger.info(
                f'The best checkpoint with {best_score:0.4f} {key_indicator} '
                f'at {cur_time} {cur_type} is saved to {name}.')
            # the new best is on disk: now the previous one may go
            if old_path and old_path != new_path and is_main_process() \
                    and self._remove(old_path):
                runner.logger.info(
                    f'The previous best checkpoint {old_path} is removed')

        # as the parent: save the latest checkpoint again so that the
        # best_score / best_ckpt it resumes with are the current ones
        if best_ckpt_updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)

    @master_only
    def _publish_model(self, runner, ckpt_path):
        """Write ``ckpt_path`` with only ``published_keys`` to
        ``<name>-<sha256[:8]>.pth``, atomically.

        Args:
            runner (Runner): The runner of the training process.
            ckpt_path (str): The checkpoint to publish.
        """
        if not self._is_local():
            return super()._publish_model(runner, ckpt_path)
        checkpoint = load_checkpoint(ckpt_path, map_location='cpu')
        removed = [k for k in list(checkpoint) if k not in self.published_keys]
        for key in removed:
            checkpoint.pop(key)
        if removed:
            print_log(
                f'Key {removed} will be removed because they are not found '
                'in published_keys. If you want to keep them, please set '
                f'`{removed}` in published_keys',
                logger='current')
        sha = hashlib.sha256(pickle.dumps(checkpoint)).hexdigest()
        final_path = osp.splitext(ckpt_path)[0] + f'-{sha[:8]}.pth'
        with atomic_writer(final_path) as f:
            torch.save(checkpoint, f)
        print_log(
            f'The checkpoint ({ckpt_path}) is published to '
            f'{final_path}.',
            logger='current')
