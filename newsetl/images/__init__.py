"""Image download, verification and content-addressed storage (see `tasks/images.py` for the warehouse side)."""
