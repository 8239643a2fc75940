"""Evaluation reports: ROC/AUC, confusion matrix, per-class metrics."""
from .report import (classification_summary, load_results, normalize_confusion,
                     plot_confusion_matrix, plot_roc, predict_dataset,
                     results_to_arrays, topk_accuracy, write_report)

__all__ = [
    'classification_summary', 'load_results', 'normalize_confusion',
    'plot_confusion_matrix', 'plot_roc', 'predict_dataset',
    'results_to_arrays', 'topk_accuracy', 'write_report'
]
