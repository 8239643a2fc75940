"""A hook that checks the classifier head against the dataset's classes."""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class NumClassCheckHook(Hook):
    """Check the classifier head against the classes of the data.

    - Stops before the first iteration when ``model.head.num_classes`` is
      not the number of classes of the training (or test) dataset, saying
      which numbers to set, instead of a late "target out of bounds" or a
      model with classes it never sees; and when the val dataset names other
      classes than the training dataset.
    - When a checkpoint is loaded (``load_from``), drops its ``head.*``
      tensors whose shapes do not fit the model (a 1000-class ImageNet head
      for a 10-class dataset), logging that the head keeps its fresh
      initialisation, instead of mmengine's "size mismatch" printout.
    """

    def _check(self, runner, loaders):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        num_classes = getattr(getattr(model, 'head', None), 'num_classes',
                              None)
        reference = None
        for name in loaders:
            try:
                dataset = getattr(runner, name).dataset
            except (AttributeError, RuntimeError):  # no such loop
                continue
            classes = getattr(dataset, 'metainfo', {}).get('classes')
            if not classes:
                continue
            classes = list(classes)
            shown = classes[:10] + (['...'] if len(classes) > 10 else [])
            if num_classes is not None and num_classes != len(classes):
                raise ValueError(
                    f'The {name} dataset has {len(classes)} classes {shown} '
                    f'but model.head.num_classes is {num_classes}: set '
                    f'model.head.num_classes={len(classes)} and '
                    f'data_preprocessor.num_classes={len(classes)}')
            if reference is None:
                reference = name, classes
            elif classes != reference[1]:
                raise ValueError(
                    f'The {name} dataset names other classes than the '
                    f'{reference[0]} dataset: {shown} vs {reference[1][:10]}')

    def after_load_checkpoint(self, runner, checkpoint):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        state = checkpoint.get('state_dict', checkpoint)
        own = model.state_dict()
        dropped = []
        for key in list(state):
            name = key[len('module.'):] if key.startswith('module.') else key
            if name.startswith('head.') and name in own and \
                    state[key].shape != own[name].shape:
                dropped.append(f'{name} {tuple(state.pop(key).shape)} -> '
                               f'{tuple(own[name].shape)}')
        if dropped:
            print_log(
                'The head of the checkpoint does not fit this model '
                f'(num_classes={getattr(model.head, "num_classes", "?")}): '
                f'not loaded, the head keeps its fresh initialisation: '
                f'{", ".join(dropped)}', logger='current',
                level=logging.WARNING)

    def before_train(self, runner):
        self._check(runner, ('train_dataloader', 'val_dataloader'))

    def before_test(self, runner):
        self._check(runner, ('test_dataloader', ))
