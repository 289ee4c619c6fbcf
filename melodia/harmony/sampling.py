"""Writing the lower voices under a soprano, step by step: bass, then tenor, then alto at each step.

Every choice is drawn under masks, strongest first: a voice always sounds and holds only a note it
has; its range (`SATB_RANGES`); no crossing and at most an octave between neighbouring upper voices;
no parallel fifths or octaves with the voices already written at that step. A mask that would leave
no choice is dropped (then the next ones still apply), so a melody outside a soprano's compass
still gets three voices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodia.harmony.config import HIGHEST, HOLD, LOWEST, REST, TOKENS
from melodia.harmony.data import STEPS_PER_QUARTER, Chorale, soprano_inputs
from melodia.harmony.inference import NumpyHarmonizer
from melodia.harmony.voiceleading import SATB_RANGES, fault_counts

STRUCK_PITCHES = np.arange(LOWEST, HIGHEST + 1)


@dataclass(frozen=True)
class Sampling:
    """How choices are made: `temperature` over the masked distribution, or the likeliest harmonization
    (`most_likely`: a beam search `beam_width` wide, or the likeliest choice at every step for a width of 1);
    `candidates` harmonizations are drawn at once and, of those with the fewest faults, the one kept is
    chosen by `choose`: "consensus" the one whose chords agree with the other candidates' on the most beats
    (a minimum-Bayes-risk choice for chord agreement: the chords the model itself finds likeliest, then
    the likeliest), "likeliest" the one of highest total log-probability; `seed` fixes the draws."""

    temperature: float = 0.5
    most_likely: bool = False
    candidates: int = 8
    seed: int = 0
    beam_width: int = 16
    choose: str = "consensus"


def candidate_pitches(previous: np.ndarray) -> np.ndarray:
    """(n, TOKENS) pitch each token would sound: HOLD the previous pitch, REST 0, else its pitch."""
    pitches = np.zeros((len(previous), TOKENS), dtype=np.int64)
    pitches[:, HOLD] = previous
    pitches[:, 2:] = STRUCK_PITCHES
    return pitches


def _parallel(candidate: np.ndarray, before: np.ndarray, other: np.ndarray, other_before: np.ndarray,
              other_is_upper: bool) -> np.ndarray:
    """Where a candidate pitch would make parallel fifths or octaves with another voice."""
    both_move = (candidate != before[:, None]) & (other != other_before)[:, None] & (before > 0)[:, None] \
        & (other_before > 0)[:, None]
    sign = 1 if other_is_upper else -1
    first = (sign * (other_before - before)) % 12
    second = (sign * (other[:, None] - candidate)) % 12
    return both_move & (first[:, None] == second) & np.isin(second, (0, 7))


def voice_masks(voice: int, candidates: np.ndarray, previous: np.ndarray, chosen: dict[int, np.ndarray],
                chosen_before: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Masks for `voice` (1 alto, 2 tenor, 3 bass), strongest first, over (n, TOKENS) candidate pitches;
    `chosen` holds this step's pitches of the soprano and the voices written below."""
    soprano = chosen[0][:, None]
    low, high = SATB_RANGES[voice]
    masks = [(candidates >= low) & (candidates <= high)]
    if voice == 3:
        masks.append(candidates <= soprano - 3)
    elif voice == 2:
        masks.append((candidates >= chosen[3][:, None]) & (candidates <= soprano) & (soprano - candidates <= 24))
    else:
        masks.append((candidates >= chosen[2][:, None]) & (candidates <= soprano) & (soprano - candidates <= 12)
                     & (candidates - chosen[2][:, None] <= 12))
    parallel = np.zeros_like(candidates, dtype=bool)
    for other, pitch in chosen.items():
        parallel |= _parallel(candidates, previous, pitch, chosen_before[other], other < voice)
    masks.append(~parallel)
    return masks


def allowed(candidates: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """Candidates that sound, under every mask that leaves each row some choice."""
    keep = candidates > 0
    for mask in masks:
        tighter = keep & mask
        rows = tighter.any(axis=1)
        keep = np.where(rows[:, None], tighter, keep)
    return keep


def harmonize_grid(model: NumpyHarmonizer, melody: Chorale, sampling: Sampling) -> Chorale:
    """`melody` (its soprano row and features) with alto, tenor and bass written under it."""
    if sampling.most_likely and sampling.beam_width > 1:
        from melodia.harmony.beam import beam_grid

        return beam_grid(model, melody, sampling.beam_width)
    count = 1 if sampling.most_likely else max(1, sampling.candidates)
    rng = np.random.default_rng(sampling.seed)
    soprano = soprano_sounding(melody.pitches[0])
    steps = melody.steps
    lower = np.zeros((count, steps, 4), dtype=np.int64)  # column 0 unused; 1 alto, 2 tenor, 3 bass
    struck = np.zeros((count, steps, 4), dtype=bool)
    score = np.zeros(count)
    encoded = np.repeat(model.encode(*(a[None] for a in soprano_inputs(melody))), count, axis=0)
    state = model.start(count)
    for step in range(steps):
        previous = lower[:, step - 1] if step else np.zeros((count, 4), dtype=np.int64)
        before = {0: np.full(count, soprano[step - 1] if step else 0), **{v: previous[:, v] for v in (1, 2, 3)}}
        context, state = model.decode_step(encoded[:, step], previous[:, [1, 2, 3]], state)
        chosen = {0: np.full(count, soprano[step])}
        below: list[np.ndarray] = []
        for voice in (3, 2, 1):
            logits = model.voice_logits(context, below)
            candidates = candidate_pitches(previous[:, voice])
            if step == 0:
                candidates[:, HOLD] = 0
            keep = allowed(candidates, voice_masks(voice, candidates, previous[:, voice], chosen, before))
            token, logp = _choose(logits, keep, sampling, rng)
            pitch = candidates[np.arange(count), token]
            lower[:, step, voice], struck[:, step, voice] = pitch, token != HOLD
            chosen[voice] = pitch
            score += logp
            below.append(pitch)
    best = _best(lower, struck, melody, score, sampling.choose)
    pitches = np.stack([melody.pitches[0], *(lower[best, :, v] for v in (1, 2, 3))])
    struck_rows = np.stack([melody.struck[0], *(struck[best, :, v] for v in (1, 2, 3))])
    return Chorale(melody.name, pitches, struck_rows, melody.fermata, melody.bar_position, melody.strength,
                   melody.meter)


def soprano_sounding(pitches: np.ndarray) -> np.ndarray:
    """The soprano with its rests filled by the note before (or after, at the start), for the masks."""
    filled = pitches.astype(np.int64).copy()
    sounding = np.flatnonzero(filled > 0)
    if not len(sounding):
        return filled
    filled[:sounding[0]] = filled[sounding[0]]
    for step in range(1, len(filled)):
        if filled[step] == 0:
            filled[step] = filled[step - 1]
    return filled


def _choose(logits: np.ndarray, keep: np.ndarray, sampling: Sampling,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tokens drawn (or the likeliest) among the kept ones, and their log-probabilities under the model."""
    logits = logits.astype(np.float64)
    logits[:, REST] = -np.inf  # written voices always sound; keep[:, REST] is False anyway
    log_probabilities = logits - _logsumexp(logits)
    masked = np.where(keep, logits, -np.inf)
    if sampling.most_likely or sampling.temperature <= 0:
        token = masked.argmax(axis=-1)
    else:
        scaled = masked / sampling.temperature
        weights = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
        cumulative = np.cumsum(weights, axis=-1)
        draws = rng.random(len(weights))[:, None] * cumulative[:, -1:]
        token = np.minimum((cumulative <= draws).sum(axis=-1), weights.shape[1] - 1)
    return token, log_probabilities[np.arange(len(token)), token]


def _logsumexp(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(values - top).sum(axis=-1, keepdims=True))


def _best(lower: np.ndarray, struck: np.ndarray, melody: Chorale, score: np.ndarray,
          choose: str = "consensus") -> int:
    """Of the candidates with the fewest voice-leading faults, the one whose beat chords agree most with
    the other candidates' ("consensus", then the likeliest), or the likeliest ("likeliest")."""
    def faults(row: int) -> int:
        pitches = np.stack([melody.pitches[0], *(lower[row, :, v] for v in (1, 2, 3))])
        strikes = np.stack([melody.struck[0], *(struck[row, :, v] for v in (1, 2, 3))])
        return sum(fault_counts(pitches, strikes).values())

    if choose not in ("consensus", "likeliest"):
        raise ValueError(f"choose {choose!r}: expected 'consensus' or 'likeliest'")
    counts = [faults(row) for row in range(len(score))]
    agreement = consensus(lower, melody) if choose == "consensus" else np.zeros(len(score))
    return min(range(len(score)), key=lambda row: (counts[row], -agreement[row], -score[row]))


def beat_chord_codes(lower: np.ndarray, soprano: np.ndarray) -> np.ndarray:
    """(candidates, beats) pitch-class sets of the four voices at each quarter-note beat, as 12-bit masks
    (0 where nothing sounds)."""
    beat_steps = np.arange(0, lower.shape[1], STEPS_PER_QUARTER)
    voices = np.concatenate([np.broadcast_to(soprano[beat_steps][None, :, None], (len(lower), len(beat_steps), 1)),
                             lower[:, beat_steps, 1:]], axis=-1)
    bits = np.where(voices > 0, np.left_shift(1, voices % 12), 0)
    return np.bitwise_or.reduce(bits, axis=-1)


def consensus(lower: np.ndarray, melody: Chorale) -> np.ndarray:
    """Each candidate's mean share of beats whose chord (pitch-class set) is the same as another candidate's."""
    count = len(lower)
    if count < 2:
        return np.zeros(count)
    codes = beat_chord_codes(lower, melody.pitches[0].astype(np.int64))
    sounding = codes != 0
    same = (codes[:, None, :] == codes[None, :, :]) & sounding[None, :, :]
    shares = same.sum(axis=-1) / np.maximum(1, sounding.sum(axis=-1))[None, :]
    return (shares.sum(axis=1) - np.diag(shares)) / (count - 1)
