"""Bridges to other tools: the pyiqa metric (``pyiqa.py``, needs ``genziqa[pyiqa]``) and the
importer of the official research code's checkpoints (``official.py``).

Nothing is imported here: each bridge is imported by name when it is wanted, so optional
dependencies stay optional.
"""
