"""Audio from a `Score`: FluidSynth with a General MIDI SoundFont when both are installed,
else a small built-in synthesizer (numpy only) with a timbre per General MIDI family and a
drum kit.

    samples, rate = sound(score)             # float32 mono in [-1, 1]
    write_wav(score, "tune.wav")             # 16-bit PCM, written atomically
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodia.errors import MelodiaError
from melodia.score import Note, Score

SAMPLE_RATE = 22050
SOUNDFONT_PLACES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                    "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
MAX_SECONDS = 3600.0
TAIL_SECONDS = 1.5  # sound kept after the music's last note ends


class SynthError(MelodiaError):
    """Audio could not be made (a score hours long, a synthesizer that failed)."""


@dataclass(frozen=True)
class Timbre:
    """Harmonic amplitudes, attack and release (s), a decay time (s; 0 = sustained), vibrato depth."""

    harmonics: tuple[float, ...]
    attack: float
    release: float
    decay: float = 0.0
    vibrato: float = 0.0
    detune: float = 0.0  # a second voice this many cents sharp (ensembles, pads)


# One timbre per General MIDI family, in family order (program // 8).
FAMILY_TIMBRES: tuple[Timbre, ...] = (
    Timbre((1, .45, .25, .12, .06), .005, .08, decay=1.2),  # piano
    Timbre((1, 0, .35, 0, .12), .002, .1, decay=.6),  # chromatic percussion
    Timbre((1, .8, .6, .45, .3, .2), .02, .05),  # organ
    Timbre((1, .6, .4, .25, .15, .08), .003, .06, decay=.8),  # guitar
    Timbre((1, .5, .2, .08), .005, .05, decay=1.5),  # bass
    Timbre(tuple(1 / n for n in range(1, 9)), .06, .12, vibrato=.004),  # strings
    Timbre(tuple(1 / n for n in range(1, 7)), .09, .2, vibrato=.003, detune=8),  # ensemble
    Timbre((1, .9, .75, .55, .4, .28, .18), .04, .08),  # brass
    Timbre((1, .15, .6, .12, .4, .08, .2), .03, .06, vibrato=.002),  # reed
    Timbre((1, .18, .06, .02), .04, .08, vibrato=.003),  # pipe
    Timbre((1, 0, 1 / 3, 0, 1 / 5, 0, 1 / 7), .005, .04),  # synth lead (square)
    Timbre(tuple(1 / n for n in range(1, 8)), .25, .4, detune=10),  # synth pad
    Timbre((1, .5, .5, .3), .1, .3, detune=20),  # synth effects
    Timbre((1, .7, .3, .3, .1), .003, .08, decay=.9),  # ethnic
    Timbre((1, .3, .1), .001, .05, decay=.3),  # percussive
    Timbre((1, .5, .5, .5), .01, .1, decay=.5),  # sound effects
)


def sound(score: Score, sample_rate: int = SAMPLE_RATE, use_fluidsynth: bool = True) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate): FluidSynth when available and wanted, else built in."""
    if score.duration_seconds() > MAX_SECONDS:
        raise SynthError(f"the score lasts {score.duration_seconds() / 60:.0f} minutes; audio is made for "
                         f"at most {MAX_SECONDS / 60:.0f}")
    soundfont = fluidsynth_soundfont() if use_fluidsynth else None
    if soundfont is not None:
        samples = _faded(_fluidsynth(score, soundfont, sample_rate), score.duration_seconds(), sample_rate)
        return _normalized(samples), sample_rate
    return synthesize(score, sample_rate), sample_rate


def _faded(samples: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """At most `TAIL_SECONDS` after the music's end (FluidSynth renders every voice's release and reverb out,
    seconds of near silence), faded out over the last tenth of a second."""
    end = int((seconds + TAIL_SECONDS) * sample_rate)
    if len(samples) <= end:
        return samples
    out = samples[:end].copy()
    fade = min(len(out), sample_rate // 10)
    out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def _normalized(samples: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scaled so the loudest sample is `peak` (silence stays silence)."""
    loudest = float(np.abs(samples).max()) if len(samples) else 0.0
    return (samples * (peak / loudest)).astype(np.float32) if loudest > 0 else samples


def fluidsynth_soundfont() -> Path | None:
    """The SoundFont FluidSynth will play with, when both are installed; else None."""
    soundfont = find_soundfont()
    return soundfont if soundfont is not None and shutil.which("fluidsynth") else None


def engine() -> str:
    """Which synthesizer `sound` uses here, in words."""
    soundfont = fluidsynth_soundfont()
    return f"FluidSynth with {soundfont}" if soundfont else "the built-in synthesizer"


def find_soundfont() -> Path | None:
    """$MELODIA_SOUNDFONT, else a General MIDI SoundFont where Debian's packages put one."""
    places = [os.environ.get("MELODIA_SOUNDFONT", ""), *SOUNDFONT_PLACES]
    return next((Path(p) for p in places if p and Path(p).is_file()), None)


def synthesize(score: Score, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The built-in synthesizer: additive tones per family, noise-and-sweep drums."""
    notes = [(track, note) for track in score.tracks for note in track.notes]
    if not notes:
        return np.zeros(sample_rate // 10, dtype=np.float32)
    onsets = score.seconds_at([n.onset_tick for _, n in notes])
    ends = score.seconds_at([n.end_tick for _, n in notes])
    out = np.zeros(int((max(ends) + 1.0) * sample_rate), dtype=np.float32)
    for (track, note), start, stop in zip(notes, onsets, ends, strict=True):
        sound = _drum(note.pitch, sample_rate) if track.is_drum else \
            _tone(note, stop - start, FAMILY_TIMBRES[track.program // 8], sample_rate)
        begin = int(start * sample_rate)
        sound = sound[:len(out) - begin] * (note.velocity / 127) ** 1.5
        out[begin:begin + len(sound)] += sound
    return _normalized(out)


def _tone(note: Note, seconds: float, timbre: Timbre, sample_rate: int) -> np.ndarray:
    frequency = 440.0 * 2 ** ((note.pitch - 69) / 12)
    length = max(seconds, 0.02) + timbre.release
    t = np.arange(int(length * sample_rate), dtype=np.float32) / sample_rate
    phase = 2 * np.pi * frequency * (t + timbre.vibrato / (2 * np.pi * 5.5) * np.sin(2 * np.pi * 5.5 * t))
    wave_ = np.zeros_like(t)
    for number, amplitude in enumerate(timbre.harmonics, start=1):
        if amplitude and number * frequency < sample_rate / 2:
            wave_ += amplitude * np.sin(number * phase)
            if timbre.detune:
                wave_ += amplitude * np.sin(number * phase * 2 ** (timbre.detune / 1200))
    envelope = np.minimum(t / max(timbre.attack, 1e-4), 1.0)
    if timbre.decay:
        envelope *= np.exp(-t / (timbre.decay * (1.5 - min(note.pitch, 108) / 108)))
    release_start = max(seconds, 0.02)
    envelope *= np.clip(1 - (t - release_start) / timbre.release, 0, 1)
    return (wave_ * envelope / sum(timbre.harmonics)).astype(np.float32)


CYMBALS = {49: (0.9, 0.55, 0.5), 57: (0.9, 0.55, 0.5), 52: (0.8, 0.45, 0.45), 55: (0.6, 0.3, 0.45),
           51: (0.7, 0.35, 0.55), 53: (0.5, 0.25, 0.5), 59: (0.7, 0.35, 0.55)}  # length, decay (s), level
HATS = {42: (0.08, 0.025, 0.8), 44: (0.08, 0.03, 0.7), 46: (0.35, 0.12, 0.6)}
METAL_RATIOS = (1.0, 1.48, 1.8, 2.55, 2.63, 3.9)  # inharmonic partials of a struck plate, after the TR-808


def _drum(pitch: int, sample_rate: int) -> np.ndarray:
    """General MIDI drum notes as kicks, snares, toms, hats and cymbals, at balanced levels: hats
    and cymbals are a metallic chord of inharmonic partials over band-limited noise, so they do
    not carry most of a kit's energy above 4 kHz as white noise would."""
    rng = np.random.default_rng(pitch)
    if pitch in CYMBALS or pitch in HATS:
        length, decay, level = CYMBALS.get(pitch) or HATS[pitch]
        return level * _metal(pitch, length, decay, sample_rate, rng)
    if pitch in (35, 36):
        length, sweep, noise, decay = 0.35, (110.0, 45.0), 0.05, 0.12
    elif pitch in (37, 38, 39, 40):
        length, sweep, noise, decay = 0.25, (190.0, 160.0), 0.8, 0.07
    elif pitch in (41, 43, 45, 47, 48, 50):
        base = 80.0 + (pitch - 41) * 18
        length, sweep, noise, decay = 0.35, (base * 1.4, base), 0.1, 0.15
    else:
        length, sweep, noise, decay = 0.12, (900.0, 700.0), 0.4, 0.03
    t = np.arange(int(length * sample_rate), dtype=np.float32) / sample_rate
    sound = noise * _band_noise(len(t), sample_rate, rng, 200.0, 5000.0)
    frequency = sweep[1] + (sweep[0] - sweep[1]) * np.exp(-t / 0.03)
    sound += np.sin(2 * np.pi * np.cumsum(frequency) / sample_rate).astype(np.float32)
    return (sound * np.exp(-t / decay)).astype(np.float32)


def _metal(pitch: int, length: float, decay: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(length * sample_rate), dtype=np.float32) / sample_rate
    hat = pitch in HATS  # smaller plates: higher partials, brighter noise
    base = 2100.0 if hat else 300.0 + 12.0 * (pitch % 7)
    tone = sum(np.sin(2 * np.pi * base * ratio * t + rng.uniform(0, 2 * np.pi)) for ratio in METAL_RATIOS)
    noise = _band_noise(len(t), sample_rate, rng, 2500.0 if hat else 1500.0, 8000.0 if hat else 6000.0)
    sound = 0.12 * np.asarray(tone, dtype=np.float32) + noise
    attack = np.minimum(t / 0.002, 1.0)
    return (sound * attack * np.exp(-t / decay)).astype(np.float32)


def _band_noise(count: int, sample_rate: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """White noise kept between `low` and `high` Hz, rolling off above `high`; unit peak."""
    if count < 2:
        return np.zeros(count, dtype=np.float32)
    spectrum = np.fft.rfft(rng.uniform(-1, 1, count))
    frequency = np.fft.rfftfreq(count, 1 / sample_rate)
    gain = np.where(frequency < low, (frequency / low) ** 2, 1.0) * np.where(frequency > high, (high / np.maximum(
        frequency, 1.0)) ** 3, 1.0)
    noise = np.fft.irfft(spectrum * gain, count)
    return (noise / max(float(np.abs(noise).max()), 1e-9)).astype(np.float32)


def _fluidsynth(score: Score, soundfont: Path, sample_rate: int) -> np.ndarray:
    from melodia.io.midi import score_to_midi_bytes

    with tempfile.TemporaryDirectory(prefix="melodia-") as folder:
        midi_path, wav_path = Path(folder) / "in.mid", Path(folder) / "out.wav"
        midi_path.write_bytes(score_to_midi_bytes(score))
        command = ["fluidsynth", "-ni", "-g", "0.6", "-r", str(sample_rate), "-F", str(wav_path), str(soundfont),
                   str(midi_path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not wav_path.is_file():
            raise SynthError(f"fluidsynth failed: {(result.stderr or result.stdout).strip()[:200]}")
        with wave.open(str(wav_path), "rb") as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            data = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16 if width == 2 else np.int32)
    full_scale = 32767.0 if width == 2 else 2147483647.0
    samples = data.reshape(-1, channels).mean(axis=1) / full_scale
    return samples.astype(np.float32)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit mono PCM WAV file contents."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(score: Score, path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> Path:
    """Render `score` and write it as a WAV file (atomically)."""
    from melodia.io.atomic import atomic_write_bytes

    samples, rate = sound(score, sample_rate)
    return atomic_write_bytes(path, wav_bytes(samples, rate))
