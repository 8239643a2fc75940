"""Convert an official MogaNet segmentation checkpoint to a mogazoo one.

    python tools/model_converters/moganet_seg_to_mogazoo.py SRC DST

SRC is a checkpoint as released by Westlake-AI/MogaNet ``segmentation/``
(mmseg 0.x: Semantic FPN, UperNet). DST holds the backbone in mogazoo's
names (``backbone.patch_embeds`` / ``stages`` / ``norms``) and the neck and
heads as they are (mmseg 1 kept their names); it loads with ``strict=True``
into the model of the matching ``configs/moganet/seg/*.py``.
"""
from mogazoo.checkpoint.converters import convert_moganet_seg
from mogazoo.checkpoint.converters.common import converter_main


def main(argv=None):
    converter_main('moganet_seg_to_mogazoo', convert_moganet_seg,
                   __doc__.splitlines()[0], argv)


if __name__ == '__main__':
    main()
