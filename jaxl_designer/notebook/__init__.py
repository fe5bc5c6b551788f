"""Notebook widgets: the designer, its inspector and its phone, over a widget-free session."""
