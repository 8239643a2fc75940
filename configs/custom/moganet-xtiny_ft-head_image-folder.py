# Fine-tune MogaNet-XT on your own folder of images (see
# configs/_base_/datasets/image_folder.py for the two layouts), starting from
# a converted official checkpoint and training only the head: the backbone
# (stem, all 4 stages and their norms) is frozen, its BatchNorms in eval mode.
# Set the data, the number of classes and the checkpoint here, or with
#   --cfg-options train_dataloader.dataset.data_root=ROOT \
#     val_dataloader.dataset.data_root=ROOT \
#     test_dataloader.dataset.data_root=ROOT model.head.num_classes=N \
#     model.backbone.init_cfg.checkpoint=CKPT
_base_ = [
    '../_base_/models/moganet/moganet-xtiny.py',
    '../_base_/datasets/image_folder.py',
    '../_base_/schedules/finetune_bs64_adamw_20e.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/digits'
num_classes = 10
# an official checkpoint converted with
# python tools/model_converters/moganet_to_mogazoo.py \
#     moganet_xtiny_sz224_8xbs128_ep300.pth.tar \
#     checkpoints/moganet-xtiny_in1k.pth
checkpoint = 'checkpoints/moganet-xtiny_in1k.pth'

model = dict(
    backbone=dict(
        frozen_stages=3,  # the last stage: the whole backbone
        drop_path_rate=0.0,
        # backbone.* weights only: the head (1000 ImageNet classes in the
        # checkpoint) keeps its fresh initialisation for num_classes
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    head=dict(num_classes=num_classes),
    train_cfg=dict(_delete_=True),  # no Mixup/CutMix
)
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-2))  # only the head learns
default_hooks = dict(logger=dict(interval=10))
randomness = dict(seed=0)
