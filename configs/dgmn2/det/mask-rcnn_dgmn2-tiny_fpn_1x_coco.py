# Mask R-CNN 1x on COCO, DGMN2-tiny backbone (published box / mask AP: 40.2 / 37.2).
# Official: fudan-zvg/DGMN2 detection/configs/mask_rcnn_dgmn2_*_fpn_8x2_1x_coco.py (mmdet 2):
# 8 GPUs x 2 images, AdamW lr 1e-4, weight decay 1e-4, no drop path, BN in the patch
# embeddings; the 500-iteration linear warm-up and the steps at epochs 8 and 11 are those
# of the mmdet base config.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/dgmn2_to_mogazoo.py \
#       dgmn2_tiny_model.pth work_dirs/pretrained/dgmn2-tiny_in1k.pth
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.DGMN2',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/dgmn2-tiny_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.0001))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='auto'))
