"""Watching a long run: where each training job stands (``rnnrepro progress``)."""
