"""Datasets and transforms for your own image folders."""
