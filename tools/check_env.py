"""Check that the mogazoo stack is installed and its compiled parts run.

Prints the version of each package (unless ``--quiet``) and exits non-zero naming the first
package that is missing or broken.
"""
import argparse
import importlib
import sys

PINS = {
    'mmengine': '0.10.7',
    'mmcv': '2.1.0',
    'mmpretrain': '1.2.0',
    'mmdet': '3.3.0',
    'mmseg': '1.2.2',
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quiet', action='store_true')
    args = parser.parse_args()
    report = {}
    try:
        import numpy
        import torch
        import torchvision
        report.update(python=sys.version.split()[0], torch=torch.__version__,
                      torchvision=torchvision.__version__, numpy=numpy.__version__,
                      cuda=torch.cuda.is_available())
        for name, pin in PINS.items():
            mod = importlib.import_module(name)
            if mod.__version__ != pin:
                raise RuntimeError(f'{name} {mod.__version__} is installed, mogazoo needs {pin}')
            report[name] = mod.__version__
        from mmcv.ops import nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
        nms(boxes, torch.tensor([0.9, 0.8]), 0.5)  # runs a compiled op from mmcv._ext
        report['mmcv ops'] = 'ok'
        import mogazoo
        report['mogazoo'] = mogazoo.__version__
    except Exception as exc:  # noqa: BLE001 - report whatever broke, by name
        print(f'[check_env] broken environment: {type(exc).__name__}: {exc}', file=sys.stderr)
        return 1
    if not args.quiet:
        for key, value in report.items():
            print(f'  {key:12s} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
