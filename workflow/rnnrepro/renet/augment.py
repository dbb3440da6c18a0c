"""Training-time corruption of ReNet inputs (Visin et al., 2015, secs. 4.1.1 and 4.3).

All functions work on a whole batch (N, C, H, W) of model inputs (already normalized) at once and
draw their randomness from an explicit ``torch.Generator`` (checkpointed with the run), so a
resumed run sees the same augmentations as an uninterrupted one.

- flipping: horizontal with 25% chance, vertical with 25% chance, else unchanged;
- shifting: 2 px left (25%), 2 px right (25%) or none; then 2 px up (25%), 2 px down (25%) or
  none. Pixels shifted out are dropped, zeros are shifted in, the size is kept;
- input masking: each input value is set to zero with probability p (no rescaling: the paper
  corrupts the input, it does not apply inverted dropout).

"Zero" is zero of the model input, i.e. after normalization (for MNIST, scaled to [0, 1], that is
a black pixel; for the standardized CIFAR-10/SVHN inputs it is the training mean).
"""

from __future__ import annotations

import torch

SHIFT_PIXELS = 2


def _choices(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Per-sample choice 0 (50%), 1 (25%) or 2 (25%)."""
    u = torch.rand(n, generator=generator).to(device)
    return (u >= 0.5).long() + (u >= 0.75).long()


def _select(choice: torch.Tensor, options: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Pick ``options[choice[i]]`` for every sample i."""
    shape = (-1,) + (1,) * (options[0].dim() - 1)
    out = options[0]
    for k, option in enumerate(options[1:], start=1):
        out = torch.where((choice == k).view(shape), option, out)
    return out


def shift_image(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift a batch by ``dy`` rows (down if positive) and ``dx`` columns (right if positive),
    dropping what leaves the image and filling with zeros."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    src_y = slice(max(-dy, 0), h - max(dy, 0))
    dst_y = slice(max(dy, 0), h - max(-dy, 0))
    src_x = slice(max(-dx, 0), w - max(dx, 0))
    dst_x = slice(max(dx, 0), w - max(-dx, 0))
    out[..., dst_y, dst_x] = x[..., src_y, src_x]
    return out


def flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Unchanged (50%), flipped horizontally (25%) or vertically (25%), per sample."""
    choice = _choices(len(x), generator, x.device)
    return _select(choice, (x, x.flip(-1), x.flip(-2)))


def shift(x: torch.Tensor, generator: torch.Generator, pixels: int = SHIFT_PIXELS) -> torch.Tensor:
    """Horizontal step: none (50%), left (25%), right (25%); then vertical: none, up, down."""
    horizontal = _choices(len(x), generator, x.device)
    vertical = _choices(len(x), generator, x.device)
    x = _select(horizontal, (x, shift_image(x, 0, -pixels), shift_image(x, 0, pixels)))
    return _select(vertical, (x, shift_image(x, -pixels, 0), shift_image(x, pixels, 0)))


def mask_inputs(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Zero each value independently with probability ``p``."""
    if p <= 0:
        return x
    keep = torch.rand(x.shape, generator=generator).to(x.device) >= p
    return x * keep


def augment(x: torch.Tensor, generator: torch.Generator, *, flipping: bool, shifting: bool,
            input_mask: float) -> torch.Tensor:
    """The training corruption of one batch: flipping, then shifting, then input masking."""
    if flipping:
        x = flip(x, generator)
    if shifting:
        x = shift(x, generator)
    return mask_inputs(x, input_mask, generator)
