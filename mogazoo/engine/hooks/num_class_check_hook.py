"""A hook that checks the classifier head against the dataset's classes."""
from mmengine.hooks import Hook
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
    - Stops as well when the data preprocessor's ``num_classes`` (the
      one-hot width of Mixup / CutMix targets) differs from the head's.

    A checkpoint whose head has another class count is handled by
    :class:`CheckpointFitHook`: dropped when fine-tuning, refused when
    evaluating. Every config gets this hook through
    ``_base_/default_runtime.py`` (``default_hooks.num_class_check``).
    """

    def _check(self, runner, loaders):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        num_classes = getattr(
            getattr(model, 'head', None), 'num_classes', None)
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
        preprocessor = getattr(
            getattr(model, 'data_preprocessor', None), 'num_classes', None)
        if None not in (num_classes, preprocessor) and \
                preprocessor != num_classes:
            raise ValueError(
                f'data_preprocessor.num_classes is {preprocessor} but '
                f'model.head.num_classes is {num_classes}: set both to the '
                'number of classes of the dataset')

    def before_train(self, runner):
        self._check(runner, ('train_dataloader', 'val_dataloader'))

    def before_test(self, runner):
        self._check(runner, ('test_dataloader', ))
