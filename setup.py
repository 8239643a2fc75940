"""mogazoo: MogaNet, FasterViT and DGMN2 for the OpenMMLab ecosystem."""
import importlib.util
import os
import os.path as osp
import re
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


def hint_pth():
    """Name and line of the .pth file that makes a bare
    ``MODELS.build(dict(type='MogaNet'))`` say to import mogazoo (see
    mogazoo/registry_hint.py, read here by path: it needs only the standard
    library)."""
    spec = importlib.util.spec_from_file_location(
        '_mogazoo_registry_hint', osp.join(HERE, 'mogazoo',
                                           'registry_hint.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return 'mogazoo-registry-hint.pth', module.pth_line()


HINT_PTH, HINT_LINE = hint_pth()

#: What a wheel carries in ``mogazoo/.mim`` (as mmpretrain packages its
#: own), so that ``mim search/train/test mogazoo`` and
#: :func:`mogazoo.hub.package_root` find the configs, tools and model index.
#: An editable install reads them from the source tree instead.
MIM_FILES = ('model-index.yml', 'configs', 'tools')


class BuildPyWithHint(build_py):
    """build_py that also puts :data:`HINT_PTH` at the root of the wheel
    (site-packages) and copies :data:`MIM_FILES` into ``mogazoo/.mim``."""

    def run(self):
        super().run()
        path = osp.join(self.build_lib, HINT_PTH)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(HINT_LINE)
        mim = osp.join(self.build_lib, 'mogazoo', '.mim')
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        os.makedirs(mim, exist_ok=True)
        for name in MIM_FILES:
            src, dst = osp.join(HERE, name), osp.join(mim, name)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)
            else:
                shutil.copyfile(src, dst)


def editable_wheel_with_hint():
    """setuptools' editable_wheel command (``pip install -e``) that adds
    :data:`HINT_PTH` to the editable wheel, or None when this setuptools
    does not have the step it extends (then there is no hint, nothing
    else changes)."""
    try:
        from setuptools.command.editable_wheel import editable_wheel
    except ImportError:
        return None
    if not hasattr(editable_wheel, '_select_strategy'):
        return None

    class WithHint:

        def __init__(self, strategy):
            self.strategy = strategy

        def __call__(self, wheel, files, mapping):
            self.strategy(wheel, files, mapping)
            wheel.writestr(HINT_PTH, HINT_LINE)

        def __enter__(self):
            self.strategy.__enter__()
            return self

        def __exit__(self, *exc_info):
            return self.strategy.__exit__(*exc_info)

    class EditableWheelWithHint(editable_wheel):

        def _select_strategy(self, *args, **kwargs):
            return WithHint(super()._select_strategy(*args, **kwargs))

    return EditableWheelWithHint


CMDCLASS = dict(
    build_py=BuildPyWithHint, editable_wheel=editable_wheel_with_hint())
if CMDCLASS['editable_wheel'] is None:
    del CMDCLASS['editable_wheel']


def get_version():
    with open(osp.join(HERE, 'mogazoo', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname):
    """Read a requirements file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


setup(
    name='mogazoo',
    version=get_version(),
    description='MogaNet, FasterViT and DGMN2 backbones for mmpretrain, '
    'mmdetection and mmsegmentation',
    long_description=open(osp.join(HERE, 'README.md'),
                          encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(
        exclude=('configs', 'configs.*', 'tools', 'tools.*', 'tests',
                 'tests.*')),
    python_requires='>=3.9',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'mim': parse_requirements('requirements/mminstall.txt'),
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
        'all': parse_requirements('requirements.txt'),
    },
    license='Apache License 2.0',
    license_files=['LICENSE'],
    zip_safe=False,
    cmdclass=CMDCLASS,
)
