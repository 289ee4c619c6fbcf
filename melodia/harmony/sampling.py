"""Writing the lower voices under a soprano, step by step: bass, then tenor, then alto at each step.

Every choice is drawn under masks, strongest first: a voice always sounds and holds only a note it
has; its range (`SATB_RANGES`); the pitch classes a tune's rules allow there (a given chord's, a
cadence's: `melodia.harmony.rules`); no crossing (the tenor under the soprano) and at most an octave
between neighbouring upper voices; a hold inside a compound beat; no parallel fifths or octaves with
the voices already written at that step, from the step before or from the beat before, and if that
cannot be, none in similar motion; in a tune (not a chorale), no tenor in unison with the bass. A
mask that would leave no choice is dropped (then the next ones still apply), so a melody outside a
soprano's compass still gets three voices; the beam search pays for each mask dropped.

The harmonization kept is chosen for its chords: the draws vote on the chord (pitch-class set) of
every quarter-note beat, each with its own probabilities of the chords it could sound there, and a
beam search (`melodia.harmony.beam`) writes the likeliest voices, with a bonus for the chords most
voted for on each beat (a minimum-Bayes-risk choice for agreeing on each beat with the chords the model
finds likeliest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodia.harmony.config import HIGHEST, HOLD, LOWEST, REST, TOKENS
from melodia.harmony.data import STEPS_PER_QUARTER, Chorale, soprano_inputs
from melodia.harmony.inference import Network, log_sum_exp
from melodia.harmony.rules import ANY, StepRules, cadence_masks, rules_of
from melodia.harmony.voiceleading import SATB_RANGES, fault_counts

STRUCK_PITCHES = np.arange(LOWEST, HIGHEST + 1)


CHOICES = ("chords", "consensus", "likeliest")


@dataclass(frozen=True)
class Sampling:
    """How choices are made. Drawn (the default): `candidates` harmonizations are drawn at `temperature`
    over the masked distribution, and `choose` picks what is kept: "chords" writes the likeliest voices
    under the chords the draws vote for on each beat (a beam search `beam_width` wide, each beat's chord
    worth `guide` nats times its share of the votes); "consensus" keeps, of the draws with the fewest
    faults, the one whose chords agree with the other draws' on the most beats (then the likeliest);
    "likeliest" the draw of highest total log-probability. `most_likely`: the likeliest voices under the
    chords the model itself finds likeliest (`votes` draws at temperature 1 vote; `guide` 0 for the
    likeliest harmonization alone), a beam search `beam_width` wide, or the likeliest choice at every step
    for a width of 1. `random_seed` fixes the draws."""

    temperature: float = 0.5
    most_likely: bool = False
    candidates: int = 8
    random_seed: int = 0
    beam_width: int = 8
    choose: str = "chords"
    votes: int = 32
    guide: float = 30.0


@dataclass
class ChordVotes:
    """Per quarter-note beat, the chords voted for (pitch-class sets as 12-bit masks, sorted) and each one's
    share of the votes (the draws' mean probability of sounding it there)."""

    codes: list[np.ndarray]
    shares: list[np.ndarray]

    def share(self, beat: int, codes: np.ndarray) -> np.ndarray:
        """The share of the votes at `beat` of each chord in `codes` (0 for one nobody voted for)."""
        known, shares = self.codes[beat], self.shares[beat]
        if not len(known):
            return np.zeros(len(codes))
        index = np.minimum(np.searchsorted(known, codes), len(known) - 1)
        return np.where(known[index] == codes, shares[index], 0.0)


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
                chosen_before: dict[int, np.ndarray], classes: int = ANY, may_strike: bool = True,
                beat_before: dict[int, np.ndarray] | None = None, tenor_bass_unisons: bool = True,
                rules: StepRules | None = None, step: int = 0) -> list[np.ndarray]:
    """Masks for `voice` (1 alto, 2 tenor, 3 bass), strongest first, over (n, TOKENS) candidate pitches;
    `chosen` holds this step's pitches of the soprano and the voices written below; `classes` the pitch
    classes the voice may sound (a 12-bit mask: a given chord's, a cadence's), `may_strike` False inside a
    beat where the voices hold (`melodia.harmony.rules`); on a beat, `beat_before` each voice's pitch on the
    beat before, so that no parallels are heard from beat to beat either; `tenor_bass_unisons` False keeps the
    tenor off the bass's pitch; a tune's `rules` at `step` add the final cadence's masks and the pitch classes
    that clash with the melody through the beat (`melodia.harmony.rules`)."""
    soprano = chosen[0][:, None]
    low, high = SATB_RANGES[voice]
    masks = [(candidates >= low) & (candidates <= high)]
    if classes != ANY:
        masks.append((np.left_shift(1, candidates % 12) & classes) != 0)
    strong, voicing, weak = tune_masks(voice, candidates, previous, chosen, rules, step)
    masks += strong
    if voice == 3:
        masks.append(candidates <= soprano - 3)
    elif voice == 2:
        masks.append((candidates >= chosen[3][:, None]) & (candidates < soprano) & (soprano - candidates <= 24))
    else:
        masks.append((candidates >= chosen[2][:, None]) & (candidates <= soprano) & (soprano - candidates <= 12)
                     & (candidates - chosen[2][:, None] <= 12))
    masks += voicing
    if not may_strike:  # hold, not strike again
        masks.append(np.broadcast_to(np.arange(candidates.shape[1]) == HOLD, candidates.shape))
    parallel = np.zeros_like(candidates, dtype=bool)
    similar = np.zeros_like(candidates, dtype=bool)  # the same, both voices moving the same way: worse
    for other, pitch in chosen.items():
        pairs = [(previous, chosen_before[other])] + ([(beat_before[voice], beat_before[other])] if beat_before
                                                      else [])
        for before, other_before in pairs:
            found = _parallel(candidates, before, pitch, other_before, other < voice)
            parallel |= found
            similar |= found & (np.sign(candidates - before[:, None]) == np.sign(pitch - other_before)[:, None])
    masks += [~parallel, ~similar]
    if rules is not None and rules.avoid is not None and rules.avoid[step]:
        masks.append((np.left_shift(1, candidates % 12) & int(rules.avoid[step])) == 0)
    if voice == 2 and not tenor_bass_unisons:  # the tenor leaves the bass its own line
        masks.append(candidates != chosen[3][:, None])
    return masks + weak


def tune_masks(voice: int, candidates: np.ndarray, previous: np.ndarray, chosen: dict[int, np.ndarray],
               rules: StepRules | None, step: int) -> tuple[list[np.ndarray], ...]:
    """The final cadence's masks at `step` of a tune's `rules`: strong, for the voicing and weak (none elsewhere)."""
    if rules is None or rules.cadence is None or not rules.cadence[step]:
        return [], [], []
    return cadence_masks(voice, candidates, previous, chosen, int(rules.cadence[step]), rules, HOLD)


def allowed(candidates: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """Candidates that sound, under every mask that leaves each row some choice."""
    return allowed_and_dropped(candidates, masks)[0]


def allowed_and_dropped(candidates: np.ndarray, masks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`allowed`, and per row how many masks had to be dropped (each a fault the beam pays for)."""
    keep = candidates > 0
    dropped = np.zeros(len(candidates), dtype=np.int64)
    for mask in masks:
        tighter = keep & mask
        rows = tighter.any(axis=1)
        keep = np.where(rows[:, None], tighter, keep)
        dropped += ~rows
    return keep, dropped


def draw(model: Network, melody: Chorale, sampling: Sampling,
         vote: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, ChordVotes | None]:
    """`sampling.candidates` harmonizations drawn together (the likeliest choice at each step, one of them,
    when `most_likely`): lower pitches and strikes (candidates, steps, 4: column 0 unused; 1 alto, 2 tenor,
    3 bass), total log-probabilities, and where `vote`, their votes on each beat's chord."""
    count = 1 if sampling.most_likely else max(1, sampling.candidates)
    rng = np.random.default_rng(sampling.random_seed)
    soprano = soprano_sounding(melody.pitches[0])
    soprano_bits = pitch_class_bits(melody.pitches[0].astype(np.int64))
    steps = melody.steps
    lower = np.zeros((count, steps, 4), dtype=np.int64)
    struck = np.zeros((count, steps, 4), dtype=bool)
    score = np.zeros(count)
    votes = ChordVotes([], [])
    rules = rules_of(melody)
    encoded = np.repeat(model.encode([a[None] for a in soprano_inputs(melody)]), count, axis=0)
    state = model.start(count)
    for step in range(steps):
        previous = lower[:, step - 1] if step else np.zeros((count, 4), dtype=np.int64)
        before = {0: np.full(count, rules.soprano_before[step]), **{v: previous[:, v] for v in (1, 2, 3)}}
        context, state = model.decode_step(encoded[:, step], previous[:, [1, 2, 3]], state)
        if vote and rules.beat_start[step]:
            codes, shares = _beat_votes(model, context, previous, before, int(soprano[step]),
                                        int(soprano_bits[step]), step, rules, last_beat(lower, soprano, rules, step))
            votes.codes.append(codes)
            votes.shares.append(shares)
        chosen = {0: np.full(count, soprano[step])}
        below: list[np.ndarray] = []
        beat = last_beat(lower, soprano, rules, step)
        for voice in (3, 2, 1):
            logits = model.voice_logits(context, below)
            candidates = candidate_pitches(previous[:, voice])
            if step == 0:
                candidates[:, HOLD] = 0
            keep = allowed(candidates, voice_masks(voice, candidates, previous[:, voice], chosen, before,
                                                   int(rules.pitch_classes[voice, step]),
                                                   bool(rules.may_strike[step]), beat, rules.tenor_bass_unisons,
                                                   rules, step))
            token, logp = _choose(logits, keep, sampling, rng)
            pitch = candidates[np.arange(count), token]
            lower[:, step, voice], struck[:, step, voice] = pitch, token != HOLD
            chosen[voice] = pitch
            score += logp
            below.append(pitch)
    return lower, struck, score, votes if vote else None


def last_beat(lower: np.ndarray, soprano: np.ndarray, rules: StepRules, step: int,
              rows: np.ndarray | None = None) -> dict[int, np.ndarray] | None:
    """On a beat of the meter, each voice's pitch on the beat before (soprano 0, alto 1, tenor 2, bass 3; for the
    harmonizations `rows` of `lower`, all by default); None off the beat or before the second one."""
    if not rules.beat_start[step]:
        return None
    earlier = np.flatnonzero(rules.beat_start[:step])
    if not len(earlier):
        return None
    beat = int(earlier[-1])
    chosen = lower[:, beat] if rows is None else lower[rows, beat]
    return {0: np.full(len(chosen), soprano[beat]), **{v: chosen[:, v] for v in (1, 2, 3)}}


def pitch_class_bits(pitches: np.ndarray) -> np.ndarray:
    """Each pitch's pitch class as a bit of a 12-bit mask (0 for a rest)."""
    return np.where(pitches > 0, np.left_shift(1, pitches % 12), 0)


def _beat_votes(model: Network, context: np.ndarray, previous: np.ndarray, before: dict[int, np.ndarray],
                soprano: int, soprano_bits: int, step: int, rules: StepRules,
                beat: dict[int, np.ndarray] | None = None, branch: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The draws' votes at a beat: each draw's probabilities (under the masks, at temperature 1) of the chords
    it could sound there, over its `branch` likeliest basses, under each the `branch` likeliest tenors, and
    every alto; the chords as sorted 12-bit masks and their mean probabilities over the draws."""
    count = len(context)
    rows = np.arange(count)
    weight = np.ones(count)
    chosen = {0: np.full(count, soprano)}
    below: list[np.ndarray] = []

    def probabilities_of(voice: int) -> tuple[np.ndarray, np.ndarray]:
        candidates = candidate_pitches(previous[rows, voice])
        if step == 0:
            candidates[:, HOLD] = 0
        keep = allowed(candidates, voice_masks(voice, candidates, previous[rows, voice], chosen,
                                               {v: pitches[rows] for v, pitches in before.items()},
                                               int(rules.pitch_classes[voice, step]), bool(rules.may_strike[step]),
                                               None if beat is None else {v: p[rows] for v, p in beat.items()},
                                               rules.tenor_bass_unisons, rules, step))
        logits = np.where(keep, model.voice_logits(context[rows], below).astype(np.float64), -np.inf)
        return candidates, np.exp(logits - log_sum_exp(logits))

    for voice in (3, 2):
        candidates, probabilities = probabilities_of(voice)
        top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :branch]
        expand = np.repeat(np.arange(len(rows)), branch)
        weight = weight[expand] * np.take_along_axis(probabilities, top, axis=-1).ravel()
        rows = rows[expand]
        chosen = {v: pitches[expand] for v, pitches in chosen.items()}
        chosen[voice] = candidates[expand, top.ravel()]
        below = [pitches[expand] for pitches in below] + [chosen[voice]]
    candidates, probabilities = probabilities_of(1)
    codes = (soprano_bits | pitch_class_bits(chosen[3]) | pitch_class_bits(chosen[2]))[:, None] \
        | pitch_class_bits(candidates)
    known, where = np.unique(codes.ravel(), return_inverse=True)
    return known, np.bincount(where.ravel(), (weight[:, None] * probabilities).ravel(), len(known)) / count


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
    log_probabilities = logits - log_sum_exp(logits)
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


def best_draw(lower: np.ndarray, struck: np.ndarray, melody: Chorale, score: np.ndarray,
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
