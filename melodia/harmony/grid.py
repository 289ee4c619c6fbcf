"""The lower voices written under a melody on its step grid, one of two ways: drawn step by step and the best
draw kept (`melodia.harmony.sampling`), or the likeliest voices found by a beam search guided by the draws'
chord votes (`melodia.harmony.beam`). `Sampling` says which."""

from __future__ import annotations

import numpy as np

from melodia.harmony.beam import beam_grid
from melodia.harmony.data import Chorale
from melodia.harmony.inference import Network
from melodia.harmony.sampling import CHOICES, Sampling, best_draw, draw


def harmonize_grid(model: Network, melody: Chorale, sampling: Sampling) -> Chorale:
    """`melody` (its soprano row and features) with alto, tenor and bass written under it."""
    if sampling.choose not in CHOICES:
        raise ValueError(f"choose {sampling.choose!r}: expected one of {', '.join(CHOICES)}")
    if sampling.most_likely and sampling.beam_width > 1:
        guided = sampling.guide > 0 and sampling.votes > 0
        votes = draw(model, melody, Sampling(1.0, False, sampling.votes, sampling.random_seed), vote=True)[3] \
            if guided else None
        return beam_grid(model, melody, sampling.beam_width, votes=votes, guide=sampling.guide if guided else 0.0)
    by_chords = not sampling.most_likely and sampling.choose == "chords" and sampling.beam_width > 1 \
        and sampling.guide > 0
    lower, struck, score, votes = draw(model, melody, sampling, vote=by_chords)
    if by_chords:
        return beam_grid(model, melody, sampling.beam_width, votes=votes, guide=sampling.guide)
    best = best_draw(lower, struck, melody, score, "likeliest" if sampling.choose == "likeliest" else "consensus")
    pitches = np.stack([melody.pitches[0], *(lower[best, :, v] for v in (1, 2, 3))])
    struck_rows = np.stack([melody.struck[0], *(struck[best, :, v] for v in (1, 2, 3))])
    return Chorale(melody.name, pitches, struck_rows, melody.fermata, melody.bar_position, melody.strength,
                   melody.meter)
