# Rules of the paper stage.


def paper_targets():
    """What `snakemake` builds by default."""
    return []
