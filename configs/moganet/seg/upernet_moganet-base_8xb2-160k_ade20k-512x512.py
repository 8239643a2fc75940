# UperNet 160k on ADE20K, MogaNet-base backbone.
_base_ = ['./upernet_moganet-xtiny_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.2,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-base_in1k.pth')),
    decode_head=dict(in_channels=[64, 160, 320, 512]),
    auxiliary_head=dict(in_channels=320),
)
