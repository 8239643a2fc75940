# Fine-tune all of FasterViT-0 on your own folder of images (see
# configs/_base_/datasets/image_folder.py for the two layouts) with
# layer-wise learning-rate decay: the head learns at the full lr, and each
# layer below it at layer_decay_rate times the lr of the layer above
# (mmpretrain's LearningRateDecayOptimWrapperConstructor with
# FasterViT.get_layer_depth: the stem is layer 0, every block one layer, a
# stage's down-sampling layer and carrier-token initializer go with its
# first block, 16 blocks + stem + head = 18 layers), so the stem learns at
# 0.9 ** 17 = 0.17 x lr. Deeper archs take a rate nearer 1.
# The whole converted classifier is loaded with load_from: with another
# num_classes the head is left out and keeps its fresh initialisation.
# Set the data, the number of classes and the checkpoint here, or with
#   --cfg-options train_dataloader.dataset.data_root=ROOT \
#     val_dataloader.dataset.data_root=ROOT \
#     test_dataloader.dataset.data_root=ROOT model.head.num_classes=N \
#     data_preprocessor.num_classes=N load_from=CKPT
_base_ = [
    '../_base_/models/fastervit/fastervit_cls.py',
    '../_base_/datasets/image_folder.py',
    '../_base_/schedules/finetune_bs64_adamw_20e.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/digits'
num_classes = 10
# an official checkpoint converted with
# python tools/model_converters/fastervit_to_mogazoo.py \
#     fastervit_0_224_1k.pth.tar checkpoints/fastervit-0_in1k.pth
# (the official file itself works too: it is converted in memory)
load_from = 'checkpoints/fastervit-0_in1k.pth'

model = dict(
    backbone=dict(arch='0', drop_path_rate=0.2),  # pretraining's drop path
    head=dict(num_classes=num_classes),
    train_cfg=dict(_delete_=True),  # no Mixup/CutMix
)
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
)
default_hooks = dict(logger=dict(interval=10))
randomness = dict(seed=0)
