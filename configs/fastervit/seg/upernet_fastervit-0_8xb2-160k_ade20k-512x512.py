# UperNet 160k on ADE20K, any-resolution FasterViT-0 backbone. The FasterViT paper reports
# UperNet on ADE20K but NVlabs publishes no config: this keeps mmseg's Swin UperNet recipe
# (8 GPUs x 2 crops of 512x512, AdamW lr 6e-5, weight decay 0.01, 1500-iteration warm-up,
# poly decay) with no weight decay on norms and biases.
# Pretrained weights: convert the official checkpoint first, e.g.
#   python tools/model_converters/fastervit_to_mogazoo.py \
#       fastervit_0_224_1k.pth.tar work_dirs/pretrained/fastervit-0_in1k.pth
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.FasterViT',
        arch='0',
        any_res=True,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/fastervit-0_in1k.pth',
            prefix='backbone.')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
)
optim_wrapper = dict(
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
