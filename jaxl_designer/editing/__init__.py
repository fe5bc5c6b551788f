"""Editing without widgets: the session (undo, the simulated call, files), forms, the canvas."""
