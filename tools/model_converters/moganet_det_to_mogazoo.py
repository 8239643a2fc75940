"""Convert an official MogaNet detection checkpoint to a mogazoo one.

    python tools/model_converters/moganet_det_to_mogazoo.py SRC DST

SRC is a checkpoint as released by Westlake-AI/MogaNet ``detection/``
(mmdet 2.x: RetinaNet, Mask R-CNN, Cascade Mask R-CNN). DST holds the
backbone in mogazoo's names (``backbone.patch_embeds`` / ``stages`` /
``norms``) and the neck and heads as they are (mmdet 3 kept their names);
it loads with ``strict=True`` into the model of the matching
``configs/moganet/det/*.py``.
"""
from mogazoo.checkpoint.converters import convert_moganet_det
from mogazoo.checkpoint.converters.common import converter_main


def main(argv=None):
    converter_main('moganet_det_to_mogazoo', convert_moganet_det,
                   __doc__.splitlines()[0], argv)


if __name__ == '__main__':
    main()
