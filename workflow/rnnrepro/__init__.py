"""rnnrepro: reproduce ReNet (Visin et al., 2015) and RNN memory capacity (Kolesau et al.)."""

__version__ = "0.1.0"
