"""Data stage: download with checksums, parse the original formats, preprocess, manifest."""
