"""A Gradio web demo of one model (``demo/web_demo.py``).

A classifier shows the top-k classes with their scores and the class
activation map of the predicted class over the image as the model sees it;
a detection or segmentation config shows the prediction drawn by mmdet's /
mmseg's visualizer. Everything is served from this machine: Gradio's
bundled front end and fonts, analytics off, no share link, no server-side
rendering process.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from mogazoo.utils import load_config
from mogazoo.visualization import (compute_cam, enlarge,
                                   informative_target_layers)
from mogazoo.visualization.predictions import prediction_text
from .downstream import (downstream_task, inference_downstream,
                         init_downstream_model, render_downstream)
from .inference import find_config, get_model, inference_model

#: Classifier input size shown in the page (pixels, nearest neighbours).
PANEL = 224
#: Page style, for ``launch(css=CSS)``: small uploads (an 8x8 digit) fill
#: the image box, drawn with sharp pixels.
CSS = """
#input-image img, #drawn img {
  width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated;
}
"""


def _gradio():
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:  # lazy: gradio is an optional dependency of the web demo only
        import gradio as gr
    except ImportError as exc:
        raise ImportError(
            'The web demo needs gradio: pip install gradio (or pip install '
            '-r requirements/optional.txt)') from exc
    return gr


class ClassifierDemo:
    """The prediction function of the web demo for a classifier.

    Args:
        model (nn.Module): From :func:`mogazoo.get_model`.
        topk (int): Classes shown. Defaults to 5.
        cam_method (str, optional): A CAM method (``gradcam``...), or None
            for no CAM. Defaults to 'gradcam'.
    """

    def __init__(self, model, topk: int = 5, cam_method='gradcam'):
        self.model = model
        self.topk = topk
        self.cam_method = cam_method

    def __call__(self, image: Optional[np.ndarray]):
        """``image``: ``H x W x 3`` uint8 **RGB** (as Gradio gives it).
        Returns ``({class: score}, CAM overlay or None, summary text)``."""
        if image is None:
            raise ValueError('Upload an image or pick an example first.')
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        bgr = np.ascontiguousarray(image[..., :3][..., ::-1])
        preds = inference_model(self.model, bgr, self.topk)
        label = {prediction_text(p): p['score'] for p in preds}
        overlay = None
        if self.cam_method:
            cam = compute_cam(
                self.model,
                bgr,
                method=self.cam_method,
                target_layers=informative_target_layers(self.model, bgr))
            overlay = enlarge(cam.overlay, PANEL)
        best = preds[0]
        text = (f'Predicted class: {prediction_text(best)} '
                f'(score {best["score"]:.3f})')
        return label, overlay, text


class DownstreamDemo:
    """The prediction function of the web demo for a detection or
    segmentation model from :func:`init_downstream_model`."""

    def __init__(self, model, score_thr: float = 0.3):
        self.model = model
        self.score_thr = score_thr

    def __call__(self, image: Optional[np.ndarray]):
        """Returns ``(drawn prediction, summary text)``."""
        if image is None:
            raise ValueError('Upload an image or pick an example first.')
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        bgr = np.ascontiguousarray(image[..., :3][..., ::-1])
        result = inference_downstream(self.model, bgr)
        drawn = render_downstream(self.model, bgr, result, self.score_thr)
        if downstream_task(self.model.cfg) == 'detection':
            n = int((result.pred_instances.scores >= self.score_thr).sum())
            text = f'{n} boxes with score >= {self.score_thr}'
        else:
            classes = self.model.dataset_meta['classes']
            seg = result.pred_sem_seg.data[0].cpu().numpy()
            found = [classes[int(c)] for c in np.unique(seg)]
            text = f'Classes found: {", ".join(found)}'
        return drawn, text


def build_web_demo(config: str,
                   checkpoint: Optional[str] = None,
                   examples: Sequence[str] = (),
                   topk: int = 5,
                   cam_method: Optional[str] = 'gradcam',
                   score_thr: float = 0.3,
                   device: str = 'cpu'):
    """The Gradio app of a config and checkpoint.

    Args:
        config (str): A classification config (file or name) or a det /
            seg config file.
        checkpoint (str, optional): Its weights (random without).
        examples (Sequence[str]): Image files offered as examples.
        topk (int): Classes shown (classifiers). Defaults to 5.
        cam_method (str, optional): CAM method, None for none (classifiers).
            Defaults to 'gradcam'.
        score_thr (float): Box score threshold (detection). Defaults to 0.3.
        device (str): Defaults to 'cpu'.

    Returns:
        gradio.Blocks: Call ``.launch(server_name='127.0.0.1', css=CSS,
        ...)``.
    """
    gr = _gradio()
    missing = [e for e in examples if not osp.isfile(e)]
    if missing:
        raise FileNotFoundError(f'Example image not found: {missing[0]}')
    path = config if osp.isfile(str(config)) else find_config(config)
    task = downstream_task(load_config(path))
    name = osp.splitext(osp.basename(path))[0]
    with gr.Blocks(title=f'mogazoo: {name}') as demo:
        gr.Markdown(f'## mogazoo web demo\n`{name}`' +
                    (f' with `{osp.basename(checkpoint)}`'
                     if checkpoint else ' (random weights)'))
        with gr.Row():
            with gr.Column():
                image = gr.Image(
                    type='numpy',
                    image_mode='RGB',
                    label='Image',
                    sources=['upload'],
                    height=PANEL + 56,
                    elem_id='input-image')
                run = gr.Button('Predict', variant='primary', elem_id='run')
            with gr.Column():
                summary = gr.Textbox(
                    label='Prediction', interactive=False, elem_id='summary')
                if task is None:
                    fn = ClassifierDemo(
                        get_model(path, checkpoint, device), topk, cam_method)
                    label = gr.Label(
                        num_top_classes=topk,
                        label='Top classes',
                        elem_id='top-classes')
                    cam = gr.Image(
                        label=f'{cam_method} of the predicted class',
                        elem_id='cam',
                        visible=bool(cam_method))
                    outputs = [label, cam, summary]
                else:
                    fn = DownstreamDemo(
                        init_downstream_model(path, checkpoint, device),
                        score_thr)
                    drawn = gr.Image(label=task.capitalize(), elem_id='drawn')
                    outputs = [drawn, summary]
        if examples:
            gr.Examples(examples=[[e] for e in examples], inputs=image)
        run.click(fn, inputs=image, outputs=outputs)
    return demo
