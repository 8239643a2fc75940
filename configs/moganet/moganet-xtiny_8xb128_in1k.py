_base_ = [
    '../_base_/models/moganet/moganet-xtiny.py',
    '../_base_/datasets/imagenet_bs128_moganet_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_moganet.py',
    '../_base_/default_runtime.py',
]
# Official recipe (TRAINING.md): 8 GPUs x 128, AdamW lr 1e-3, wd 0.03, drop path
# and mixup 0.1 in the model base, RandAugment rand-m7-mstd0.5-inc1, AMP.
train_pipeline = [
    dict(t, magnitude_level=7) if t['type'] == 'RandAugment' else t
    for t in _base_.train_pipeline
]
if sum(t['type'] == 'RandAugment' for t in train_pipeline) != 1:
    raise ValueError('expected exactly one RandAugment in the inherited '
                     'train_pipeline')
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(weight_decay=0.03))
