# DINO 4-scale, 12 epochs on COCO, any-resolution FasterViT-0 backbone.
# Official: NVlabs/FasterViT downstream/object_detection/dino (DINO code base), configs
# DINO_4scale_faster_vit_*: stages 2-4 into 4 feature levels, drop path 0.1, gradient
# checkpointing, AdamW lr 1e-4 (backbone 1e-5), weight decay 1e-4, clipping 0.1, lr drop at
# epoch 11, 2 images per GPU. mmdet's DINO config has the same optimizer and schedule, so
# only the backbone and the channel mapper differ. NVlabs' DINO backbone is its own
# variant (it pads every stage, conv stages included, to window multiples), so its features
# differ from the classification/any-resolution model's; see configs/fastervit/README.md.
# Pretrained weights: convert the official checkpoint first, e.g.
#   python tools/model_converters/fastervit_to_mogazoo.py \
#       fastervit_0_224_1k.pth.tar work_dirs/pretrained/fastervit-0_in1k.pth
_base_ = ['mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py']
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.FasterViT',
        arch='0',
        any_res=True,
        drop_path_rate=0.1,
        out_indices=(1, 2, 3),
        with_cp=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/fastervit-0_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[128, 256, 512]),
)
