"""The shape of the package (issue 25): no patches of other libraries
outside mogazoo/compat.py, function-level imports only where a heavy
optional dependency must stay lazy."""
import ast
import glob
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = osp.join(ROOT, 'mogazoo')
#: Libraries whose objects mogazoo must not change.
GUARDED = ('mmengine', 'mmpretrain', 'mmdet', 'mmseg', 'mmcv', 'torch',
           'torchvision', 'setuptools')
#: Imports that may stay inside a function: optional or heavy packages
#: (the web demo, CAMs, ONNX checks, det/seg, plots), each with a comment.
LAZY = ('gradio', 'pytorch_grad_cam', 'onnx', 'onnxruntime', 'mmdet', 'mmseg',
        'matplotlib', 'tensorboard', 'mmcv.ops', 'tqdm', 'mmpretrain.utils',
        'mmcv', 'timm')


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _guarded(module):
    return module.split('.')[0] in GUARDED


def patches(source, filename='<source>'):
    """``(line, target)`` of every assignment to an attribute of a guarded
    library's module or object, and every ``setattr`` on one."""
    tree = ast.parse(source, filename)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _guarded(alias.name):
                    names.add(alias.asname or alias.name.split('.')[0])
        elif isinstance(node, ast.ImportFrom) and node.module and \
                not node.level and _guarded(node.module):
            names.update(a.asname or a.name for a in node.names)
    # loop variables over guarded names (for m in (mmpretrain, ...):)
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) \
                and any(_root(e) in names for e in ast.walk(node.iter)
                        if isinstance(e, (ast.Name, ast.Attribute))):
            names.add(node.target.id)
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute) and _root(t) in names:
                    found.append((t.lineno, ast.unparse(t)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ('setattr', 'delattr') and node.args \
                and _root(node.args[0]) in names:
            found.append((node.lineno, ast.unparse(node)))
    return found


def package_files():
    return sorted(
        glob.glob(osp.join(PACKAGE, '**', '*.py'), recursive=True) +
        [osp.join(ROOT, 'setup.py')])


def test_no_patch_of_another_library_outside_compat():
    bad = {}
    for path in package_files():
        if path == osp.join(PACKAGE, 'compat.py'):
            continue
        with open(path, encoding='utf-8') as f:
            found = patches(f.read(), path)
        if found:
            bad[osp.relpath(path, ROOT)] = found
    assert not bad, bad


@pytest.mark.parametrize('source', [
    'import mmpretrain\nmmpretrain.get_model = None\n',
    'import mmpretrain.apis\nfor m in (mmpretrain.apis, ):\n'
    '    m.get_model = None\n',
    'from mmengine.registry import Registry\nRegistry.build = None\n',
    'from torch import serialization as s\nsetattr(s, "load", None)\n',
    'from setuptools.command.editable_wheel import editable_wheel\n'
    'editable_wheel._select_strategy = None\n',
])
def test_the_walk_finds_patches(source):
    assert patches(source)


def test_the_walk_leaves_own_objects_alone():
    assert not patches('import torch\nclass A:\n    pass\n'
                       'a = A()\na.load = torch.load\nself_x = 1\n')


def function_level_imports(path):
    """``(line, module, comment)`` of the imports inside functions."""
    with open(path, encoding='utf-8') as f:
        source = f.read()
    lines = source.splitlines()
    out = []
    for func in ast.walk(ast.parse(source, path)):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = ['.' * node.level + (node.module or '')]
            else:
                continue
            around = ' '.join(lines[max(0, node.lineno - 2):node.lineno])
            for module in modules:
                out.append((node.lineno, module, around))
    return out


def test_function_level_imports_are_lazy_optional_ones_with_a_reason():
    bad = []
    for path in package_files():
        for line, module, around in function_level_imports(path):
            lazy = any(module == m or module.startswith(m + '.') for m in LAZY)
            if not lazy or '#' not in around:
                bad.append(f'{osp.relpath(path, ROOT)}:{line} {module}')
    assert not bad, bad
