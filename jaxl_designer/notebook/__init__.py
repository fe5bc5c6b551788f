"""Notebook widgets: the designer (the canvas, its inspector and phone) over the editing layer."""
