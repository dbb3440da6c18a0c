"""The error every data-stage failure raises: a problem with a file the user can fix."""

from __future__ import annotations


class DataError(Exception):
    """A raw or processed data file is missing, corrupt, unsafe or does not match the config.

    The message names the file and says what to do; the command line prints it without a
    traceback.
    """


def setting(settings: dict, key: str, config_key: str) -> object:
    """``settings[key]`` of a data command's ``--settings``, or a DataError naming the config
    key it comes from."""
    if key not in settings:
        raise DataError(f"--settings lacks {key!r} (config key {config_key})")
    return settings[key]
