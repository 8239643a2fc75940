# Fine-tune all of DGMN2-T on your own folder of images (see
# configs/_base_/datasets/image_folder.py for the two layouts) with
# layer-wise learning-rate decay: the head learns at the full lr, and each
# layer below it at layer_decay_rate times the lr of the layer above
# (mmpretrain's LearningRateDecayOptimWrapperConstructor with
# DGMN2.get_layer_depth: the first patch embedding is layer 0, every block
# one layer, a stage's patch embedding goes with the block before it, 8
# blocks + stem + head = 10 layers), so with the shallow DGMN2-T a rate of
# 0.8 gives the stem 0.8 ** 9 = 0.13 x lr. Deeper archs take a rate nearer 1
# (DGMN2-S, 18 layers: about 0.9).
# The whole converted classifier is loaded with load_from: with another
# num_classes the head is left out and keeps its fresh initialisation.
# Set the data, the number of classes and the checkpoint here, or with
#   --cfg-options train_dataloader.dataset.data_root=ROOT \
#     val_dataloader.dataset.data_root=ROOT \
#     test_dataloader.dataset.data_root=ROOT model.head.num_classes=N \
#     data_preprocessor.num_classes=N load_from=CKPT
_base_ = [
    '../_base_/models/dgmn2/dgmn2_cls.py',
    '../_base_/datasets/image_folder.py',
    '../_base_/schedules/finetune_bs64_adamw_20e.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/digits'
num_classes = 10
# an official checkpoint converted with
# python tools/model_converters/dgmn2_to_mogazoo.py \
#     dgmn2_tiny_model.pth checkpoints/dgmn2-tiny_in1k.pth
# (the official file itself works too: it is converted in memory)
load_from = 'checkpoints/dgmn2-tiny_in1k.pth'

model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.1),  # pretraining's drop path
    head=dict(num_classes=num_classes),
    train_cfg=dict(_delete_=True),  # no Mixup/CutMix
)
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.8),
)
default_hooks = dict(logger=dict(interval=10))
randomness = dict(seed=0)
