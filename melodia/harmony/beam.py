"""The likeliest harmonization by beam search: at each step every kept harmonization tries its `branch`
likeliest basses, under each of them the `branch` likeliest tenors, under those the likeliest altos (all
under the masks of `melodia.harmony.sampling`), and the `width` likeliest continuations go on. Guided by
chord votes, each beat's chord adds `guide` nats times its share of the votes to the score."""

from __future__ import annotations

import numpy as np

from melodia.harmony.config import HOLD, REST
from melodia.harmony.data import Chorale, soprano_inputs
from melodia.harmony.inference import LSTMState, Network
from melodia.harmony.rules import rules_of
from melodia.harmony.sampling import (
    ChordVotes,
    allowed_and_dropped,
    candidate_pitches,
    last_beat,
    pitch_class_bits,
    soprano_sounding,
    voice_masks,
)

DROPPED_MASK_COST = 20.0  # nats a harmonization pays for each rule it had to break (no choice kept it)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    logits[:, REST] = -np.inf
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def _best_tokens(scores: np.ndarray, keep: np.ndarray, branch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row the `branch` best kept tokens (rows, branch) and their scores (-inf where fewer were kept)."""
    masked = np.where(keep, scores, -np.inf)
    tokens = np.argsort(-masked, axis=-1, kind="stable")[:, :branch]
    return tokens, np.take_along_axis(masked, tokens, axis=-1)


def beam_grid(model: Network, melody: Chorale, width: int = 8, branch: int = 3,
              votes: ChordVotes | None = None, guide: float = 0.0) -> Chorale:
    """`melody` with the likeliest alto, tenor and bass the beam finds (with `votes`, the likeliest plus `guide`
    nats times each beat chord's share of the votes)."""
    soprano = soprano_sounding(melody.pitches[0])
    rules = rules_of(melody)
    beat_number = np.cumsum(rules.beat_start) - 1
    soprano_bits = pitch_class_bits(melody.pitches[0].astype(np.int64))
    steps = melody.steps
    encoded = model.encode([a[None] for a in soprano_inputs(melody)])[0]
    lower = np.zeros((1, steps, 4), dtype=np.int64)
    struck = np.zeros((1, steps, 4), dtype=bool)
    total = np.zeros(1)
    state = model.start(1)
    for step in range(steps):
        beams = len(total)
        previous = lower[:, step - 1] if step else np.zeros((beams, 4), dtype=np.int64)
        context, state = model.decode_step(np.repeat(encoded[step][None], beams, axis=0), previous[:, [1, 2, 3]],
                                           state)
        rows = np.arange(beams)  # which beam each partial choice extends
        chosen = {0: np.full(beams, soprano[step])}
        scores = total.copy()
        picked: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for voice in (3, 2, 1):
            count = len(rows)
            before = {0: np.full(count, rules.soprano_before[step]),
                      **{v: previous[rows, v] for v in (1, 2, 3)}}
            logp = _log_softmax(model.voice_logits(context[rows], [chosen[v] for v in (3, 2) if v > voice]))
            candidates = candidate_pitches(previous[rows, voice])
            if step == 0:
                candidates[:, HOLD] = 0
            keep, dropped = allowed_and_dropped(candidates, voice_masks(
                voice, candidates, previous[rows, voice], chosen, before, int(rules.pitch_classes[voice, step]),
                bool(rules.may_strike[step]), last_beat(lower, soprano, rules, step, rows), rules.tenor_bass_unisons,
                rules, step))
            scores = scores - DROPPED_MASK_COST * dropped
            tokens, token_scores = _best_tokens(logp, keep, branch)
            expand = np.repeat(np.arange(count), branch)
            rows, scores = rows[expand], scores[expand] + token_scores.ravel()
            for v in chosen:
                chosen[v] = chosen[v][expand]
            picked = {v: (t[expand], p[expand]) for v, (t, p) in picked.items()}
            token = tokens.ravel()
            picked[voice] = (token, candidates[expand, token])
            chosen[voice] = picked[voice][1]
        if votes is not None and guide and rules.beat_start[step]:
            codes = soprano_bits[step] | pitch_class_bits(chosen[1]) | pitch_class_bits(chosen[2]) \
                | pitch_class_bits(chosen[3])
            scores = scores + np.where(np.isfinite(scores), guide * votes.share(int(beat_number[step]), codes), 0)
        order = [i for i in np.argsort(-scores, kind="stable")[:width] if np.isfinite(scores[i])]
        order = order or [int(np.argmax(scores))]
        lower, struck = lower[rows[order]], struck[rows[order]]
        for voice, (token, pitch) in picked.items():
            lower[:, step, voice], struck[:, step, voice] = pitch[order], token[order] != HOLD
        total = scores[order]
        state = LSTMState(state.hidden[rows[order]], state.cell[rows[order]])
    pitches = np.stack([melody.pitches[0], *(lower[0, :, v] for v in (1, 2, 3))])
    struck_rows = np.stack([melody.struck[0], *(struck[0, :, v] for v in (1, 2, 3))])
    return Chorale(melody.name, pitches, struck_rows, melody.fermata, melody.bar_position, melody.strength,
                   melody.meter)
