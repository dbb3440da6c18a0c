"""Flipping, shifting and input masking: exact pixel movement and the paper's probabilities."""

from __future__ import annotations

import pytest
import torch

from rnnrepro.renet.augment import augment, flip, mask_inputs, shift, shift_image

N = 12000
# Proportions of N draws: 4 standard deviations of a 25% share is ~0.016.
TOL = 0.02


def distinct_images(n: int, c: int = 2, h: int = 7, w: int = 9) -> torch.Tensor:
    """Images with no symmetry and no zeros, so every transform is recognisable."""
    base = torch.arange(1, c * h * w + 1, dtype=torch.float32).reshape(1, c, h, w)
    return base.repeat(n, 1, 1, 1) + torch.arange(n).view(n, 1, 1, 1) * 1000.0


def identify(out: torch.Tensor, options: dict[str, torch.Tensor]) -> list[str]:
    """Name of the option each sample equals exactly (each sample must match exactly one)."""
    keys = list(options)
    match = torch.stack([(out == options[k]).flatten(1).all(1) for k in keys], dim=1)
    assert torch.all(match.sum(1) == 1), "every sample must equal exactly one option"
    return [keys[i] for i in match.int().argmax(1).tolist()]


def shares(names: list[str]) -> dict[str, float]:
    return {name: names.count(name) / len(names) for name in set(names)}


def test_shift_image_moves_pixels_exactly():
    x = distinct_images(2)
    h, w = x.shape[-2:]
    left, right = shift_image(x, 0, -2), shift_image(x, 0, 2)
    up, down = shift_image(x, -2, 0), shift_image(x, 2, 0)
    for i in range(h):
        for j in range(w):
            assert torch.equal(left[..., i, j], x[..., i, j + 2] if j + 2 < w
                               else torch.zeros_like(x[..., i, j]))
            assert torch.equal(right[..., i, j], x[..., i, j - 2] if j >= 2
                               else torch.zeros_like(x[..., i, j]))
            assert torch.equal(up[..., i, j], x[..., i + 2, j] if i + 2 < h
                               else torch.zeros_like(x[..., i, j]))
            assert torch.equal(down[..., i, j], x[..., i - 2, j] if i >= 2
                               else torch.zeros_like(x[..., i, j]))
    assert left.shape == x.shape
    # Composition: right then down moves pixel (i, j) to (i + 2, j + 2).
    both = shift_image(x, 2, 2)
    assert torch.equal(both[..., 2:, 2:], x[..., :-2, :-2])
    assert both[..., :2, :].abs().sum() == 0 and both[..., :, :2].abs().sum() == 0


def test_flip_probabilities_and_movement():
    x = distinct_images(N)
    out = flip(x, torch.Generator().manual_seed(0))
    names = identify(out, {"none": x, "horizontal": x.flip(-1), "vertical": x.flip(-2)})
    p = shares(names)
    assert p["none"] == pytest.approx(0.5, abs=TOL)
    assert p["horizontal"] == pytest.approx(0.25, abs=TOL)
    assert p["vertical"] == pytest.approx(0.25, abs=TOL)
    # Horizontal flip mirrors columns: pixel (i, j) goes to (i, W-1-j).
    k = names.index("horizontal")
    assert torch.equal(out[k, :, :, 0], x[k, :, :, -1])
    assert torch.equal(out[k, :, :, 3], x[k, :, :, -4])
    k = names.index("vertical")  # vertical flip mirrors rows: (i, j) goes to (H-1-i, j)
    assert torch.equal(out[k, :, 0, :], x[k, :, -1, :])
    assert torch.equal(out[k, :, 2, :], x[k, :, -3, :])


def test_shift_probabilities_two_independent_steps():
    x = distinct_images(N)
    out = shift(x, torch.Generator().manual_seed(1))
    options = {}
    for hname, dx in (("none", 0), ("left", -2), ("right", 2)):
        for vname, dy in (("none", 0), ("up", -2), ("down", 2)):
            options[(hname, vname)] = shift_image(x, dy, dx)
    names = identify(out, {f"{h}/{v}": o for (h, v), o in options.items()})
    horizontal = shares([n.split("/")[0] for n in names])
    vertical = shares([n.split("/")[1] for n in names])
    assert horizontal["none"] == pytest.approx(0.5, abs=TOL)
    assert horizontal["left"] == pytest.approx(0.25, abs=TOL)
    assert horizontal["right"] == pytest.approx(0.25, abs=TOL)
    assert vertical["none"] == pytest.approx(0.5, abs=TOL)
    assert vertical["up"] == pytest.approx(0.25, abs=TOL)
    assert vertical["down"] == pytest.approx(0.25, abs=TOL)
    joint = shares(names)  # the two steps are independent: P(left and up) = 1/16
    assert joint["left/up"] == pytest.approx(1 / 16, abs=TOL)
    assert joint["none/none"] == pytest.approx(1 / 4, abs=TOL)


def test_input_masking_rate_and_values():
    x = torch.rand(200, 3, 32, 32) + 1.0  # no zeros before masking
    out = mask_inputs(x, 0.2, torch.Generator().manual_seed(2))
    zeroed = out == 0
    assert zeroed.float().mean().item() == pytest.approx(0.2, abs=0.003)
    assert torch.equal(out[~zeroed], x[~zeroed])  # kept values are not rescaled
    # Independent per value: the per-image rate varies around 0.2 with binomial spread.
    per_image = zeroed.flatten(1).float().mean(1)
    assert per_image.std().item() == pytest.approx((0.2 * 0.8 / 3072) ** 0.5, rel=0.3)


def test_augment_is_seeded_and_can_be_switched_off():
    x = distinct_images(64)
    a = augment(x, torch.Generator().manual_seed(3), flipping=True, shifting=True,
                input_mask=0.2)
    b = augment(x, torch.Generator().manual_seed(3), flipping=True, shifting=True,
                input_mask=0.2)
    c = augment(x, torch.Generator().manual_seed(4), flipping=True, shifting=True,
                input_mask=0.2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    same = augment(x, torch.Generator().manual_seed(3), flipping=False, shifting=False,
                   input_mask=0.0)
    assert torch.equal(same, x)
