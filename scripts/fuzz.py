"""Fuzz every reader for a while: MIDI bytes, ABC and MusicXML text, seed phrases, token
sequences, style templates, batch job files, model files.

Each target draws inputs from a seeded `random.Random` -- random data, and real files
mutated -- and feeds them to the reader. The property: the reader returns, or raises a
`MelodiaError`; nothing else escapes, and no input takes longer than the time bound.
`tests/test_fuzz.py` runs a bounded number of inputs of each target; this script runs for minutes.

Prints, per target, the inputs tried, how many were refused with a clear error, the slowest
answer, and every failure (anything but a MelodiaError escaping, or an input taking more
than the time bound). Failing inputs are saved under --save for replay. Exits 1 on any failure.

Usage: python scripts/fuzz.py [--minutes 1] [--targets midi,abc,...] [--random-seed 0] [--save DIR]
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import melodia
from melodia.errors import MelodiaError
from melodia.limits import time_limit

# A batch job like scripts/batch_example.toml.
EXAMPLE_JOB = """seeds = ["D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "A4 B4 C5 B4 A4/2 E4/2 key=Am"]
temperatures = [0.8, 1.0]
styles = ["none", "celtic-jig", "string-waltz"]
count = 4
bars = 8
model = "default"
output = "out"
random_seed = 0
audio = false
workers = 2

[constraints]
range = "C4:C6"
max_leap = 9
"""
PACKAGE = Path(melodia.__file__).resolve().parent
TIME_BOUND = 2.0  # seconds one input may take


@dataclass
class Failure:
    """An input that crashed a reader or took too long, with what happened."""

    target: str
    kind: str  # "crash", "slow" or "hang"
    detail: str
    data: Any


@dataclass
class Tally:
    """Inputs tried and failures found for one target."""

    target: str
    tried: int = 0
    refused: int = 0  # inputs answered with a MelodiaError
    slowest: float = 0.0
    failures: list[Failure] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """A reader under test: how to draw an input, and how to feed it in."""

    name: str
    draw: Callable[[random.Random], Any]
    feed: Callable[[Any], Any]
    bound: float = TIME_BOUND  # seconds one input may take


class _Hang(BaseException):
    """Raised when one input runs far past the bound: distinct from the readers' own
    `TimeLimitExceeded`, which they turn into a refusal."""


def try_input(target: Target, data: Any, tally: Tally, bound: float = TIME_BOUND) -> None:
    """Feed one input; record a refusal, a crash, a slow answer or a hang in `tally`."""
    tally.tried += 1
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        with time_limit(bound * 5, _Hang):
            target.feed(data)
    except MelodiaError:
        tally.refused += 1
    except _Hang:
        tally.failures.append(Failure(target.name, "hang", f"stopped after {bound * 5:.0f} s", data))
        return
    except Exception:  # the property under test: nothing but MelodiaError escapes
        tally.failures.append(Failure(target.name, "crash", traceback.format_exc(limit=6), data))
    # the lesser of wall and CPU time: waiting for a busy machine's cores is not slowness (CPU time), and
    # neither is work spread over threads (wall time)
    elapsed = min(time.perf_counter() - started, time.process_time() - started_cpu)
    tally.slowest = max(tally.slowest, elapsed)
    if elapsed > bound:
        tally.failures.append(Failure(target.name, "slow", f"{elapsed:.2f} s", data))


def run_target(target: Target, inputs: int | None = None, seconds: float | None = None,
               random_seed: int = 0) -> Tally:
    """Try `inputs` inputs, or as many as fit in `seconds`, drawn from `random_seed`."""
    rng = random.Random(f"{target.name}:{random_seed}")
    tally = Tally(target.name)
    stop = time.monotonic() + seconds if seconds else None
    while (inputs is None or tally.tried < inputs) and (stop is None or time.monotonic() < stop):
        try_input(target, target.draw(rng), tally, target.bound)
    return tally


# --- mutation ------------------------------------------------------------------------------

INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x90, 0x80, 0xC0, 0xF0, 0xF7)


def mutate_bytes(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """`data` with 1-8 random edits: flips, interesting bytes, inserts, deletes, copies, big
    numbers over chunk lengths, truncation."""
    out = bytearray(data)
    for _ in range(rounds or rng.randint(1, 8)):
        if not out:
            out += rng.randbytes(rng.randint(1, 64))
            continue
        spot = rng.randrange(len(out))
        move = rng.randrange(8)
        if move == 0:
            out[spot] ^= 1 << rng.randrange(8)
        elif move == 1:
            out[spot] = rng.choice(INTERESTING)
        elif move == 2:
            out[spot:spot] = rng.randbytes(rng.randint(1, 32))
        elif move == 3:
            del out[spot:spot + rng.randint(1, 64)]
        elif move == 4:
            start = rng.randrange(len(out))
            out[spot:spot] = out[start:start + rng.randint(1, 256)]
        elif move == 5:
            out[spot:spot + 4] = rng.choice((b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                                             b"\x0f\xff\xff\xff"))
        elif move == 6:
            del out[rng.randrange(len(out)):]
        else:
            out[spot:spot + 3] = rng.choice((b"\xff\x51\x03", b"\xff\x58\x04", b"\xff\x2f\x00", b"\x8f\xff\x7f"))
    return bytes(out)


def mutate_text(text: str, rng: random.Random, alphabet: str) -> str:
    """`text` with 1-6 edits: characters, numbers made huge or negative, lines dropped or doubled."""
    for _ in range(rng.randint(1, 6)):
        move = rng.randrange(6)
        if not text:
            return rng.choice(alphabet) * rng.randint(1, 20)
        spot = rng.randrange(len(text))
        if move == 0:
            text = text[:spot] + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) + text[spot:]
        elif move == 1:
            text = text[:spot] + text[spot + rng.randint(1, 20):]
        elif move == 2:
            numbers = list(re.finditer(r"\d+", text))
            if numbers:
                match = rng.choice(numbers)
                value = rng.choice(("0", "-1", "999999999", "4294967296", "1e309", "", "00", "7"))
                text = text[:match.start()] + value + text[match.end():]
        elif move == 3:
            lines = text.splitlines()
            index = rng.randrange(len(lines))
            lines.insert(index, lines[index]) if rng.random() < 0.5 else lines.pop(index)
            text = "\n".join(lines)
        elif move == 4:
            text = text[:spot]
        else:
            text = text[:spot] + text[spot:spot + 200] * rng.randint(2, 20) + text[spot + 200:]
    return text


# --- targets --------------------------------------------------------------------------------

def _midi_samples() -> list[bytes]:
    import music21

    folders = (Path(music21.__file__).parent / "midi" / "testPrimitive", PACKAGE / "data")
    return [p.read_bytes() for folder in folders for p in sorted(folder.glob("*.mid")) if p.stat().st_size < 200_000]


def midi_target() -> Target:
    from melodia.io.midi import score_from_midi_bytes

    samples = _midi_samples()

    def draw(rng: random.Random) -> bytes:
        if rng.random() < 0.15:
            head = b"MThd\x00\x00\x00\x06" + rng.randbytes(6) + b"MTrk" if rng.random() < 0.7 else b""
            return head + rng.randbytes(rng.randint(0, 400))
        return mutate_bytes(rng.choice(samples), rng)

    return Target("midi", draw, lambda data: score_from_midi_bytes(data, "<fuzz>").validate())


MAX_TEXT = 10_000  # characters of ABC / MusicXML text per input


def _music21_bound() -> float:
    """music21 readers have their own budget: 2 s plus 1 s per 5 KB (see melodia.io.music21)."""
    from melodia.io.music21 import PARSE_BYTES_PER_SECOND, PARSE_SECONDS

    return PARSE_SECONDS + MAX_TEXT / PARSE_BYTES_PER_SECOND + 0.5


ABC_SAMPLE = """X:1
T:The Fuzzed Reel
M:4/4
L:1/8
Q:1/4=120
K:D
|:A2FA dAFA|B2GB dBGB|A2FA dAFA|1 BdcB A2FE:|2 BdcB A4|
|:(3ABc d2 e2fe|d2B2 B4|[Ad]2 z2 ^c=c _B2|d8-|d2 A>B c<d e/f/g/a/|]
"""
ABC_ALPHABET = "ABCDEFGabcdefgz^_=,'/<>-|:[]()123456789 \nXTMLKQVw%!\"~.{}+"
XML_ALPHABET = "<>/=\"' abcdefghijklmnopqrstuvwxyz0123456789-.\n"


def abc_target() -> Target:
    from melodia.io.music21 import score_from_text

    def draw(rng: random.Random) -> str:
        return mutate_text(ABC_SAMPLE, rng, ABC_ALPHABET)[:MAX_TEXT]

    return Target("abc", draw, lambda text: score_from_text(text, "abc", "<fuzz>").validate(), _music21_bound())


def musicxml_target() -> Target:
    from melodia.io.music21 import score_from_text

    sample: list[str] = []

    def draw(rng: random.Random) -> str:
        if not sample:
            from melodia.io.music21 import musicxml_bytes
            from melodia.seed import parse_seed

            score = parse_seed("D4/8 E4/8 F#4 G4/8t A4/8t B4/8t C#5/2. r/4 D5~ D5 key=D meter=3/4")[0]
            sample.append(musicxml_bytes(score).decode("utf-8"))
        return mutate_text(sample[0], rng, XML_ALPHABET)[:MAX_TEXT]

    return Target("musicxml", draw, lambda text: score_from_text(text, "musicxml", "<fuzz>").validate(),
                  _music21_bound())


SEED_WORDS = ("C4", "D#5/8", "Bb3/4.", "E4/8t", "G##4/16", "Abb2/2..", "r/4", "r", "C4~", "c", "F#-1", "G9/32",
              "key=G", "key=Bbm", "key=D-dorian", "key=H", "meter=6/8", "meter=0/4", "meter=7/3", "tempo=100",
              "tempo=0", "tempo=-5", "A4/0", "A4/3", "X:1", "K:D", "|", "~", "/", "=", "C4/128", "C99", "")


def seed_target() -> Target:
    from melodia.lm.generation import read_seed

    def draw(rng: random.Random) -> str:
        words = [rng.choice(SEED_WORDS) for _ in range(rng.randint(0, 12))]
        if rng.random() < 0.3:
            words = [mutate_text(w, rng, "ABCDEFGabcdefg#b/.t~=0123456789-r ") for w in words]
        if rng.random() < 0.1:
            return mutate_text("X:1\nL:1/8\nM:6/8\nK:G\nGAB d2e|", rng, ABC_ALPHABET)[:MAX_TEXT]
        return " ".join(words)

    return Target("seed", draw, lambda text: read_seed(text)[0].validate(), _music21_bound())


def tokens_target() -> Target:
    from melodia.tokenizers import TokenizerConfig, tokenizer_from_config

    tokenizers = [tokenizer_from_config(TokenizerConfig()),
                  tokenizer_from_config(TokenizerConfig(scheme="performance")),
                  tokenizer_from_config(TokenizerConfig(melody=True))]
    real = [t.encode(t.quantize(_example())).tolist() for t in tokenizers]

    def draw(rng: random.Random) -> tuple[int, list[int]]:
        which = rng.randrange(len(tokenizers))
        size = len(tokenizers[which])
        if rng.random() < 0.3:
            return which, [rng.randrange(-2, size + 2) for _ in range(rng.randint(0, 300))]
        tokens = list(real[which])
        for _ in range(rng.randint(1, 10)):
            spot = rng.randrange(len(tokens))
            move = rng.randrange(3)
            if move == 0:
                tokens[spot] = rng.randrange(size)
            elif move == 1:
                del tokens[spot]
            else:
                tokens.insert(spot, rng.randrange(size))
        return which, tokens

    return Target("tokens", draw, lambda item: tokenizers[item[0]].decode(item[1]).validate())


def _example() -> Any:
    from melodia.io import read_score
    from melodia.resources import example_path

    return read_score(example_path())


TOML_ALPHABET = "[]=\"'.,#_- abcdefghijklmnopqrstuvwxyz0123456789\n{}:"


def _toml_target(name: str, samples: Sequence[Path | str], load: Callable[[Path], Any]) -> Target:
    """Mutations of TOML files (or texts) fed to `load`."""
    texts = [p.read_text(encoding="utf-8") if isinstance(p, Path) else p for p in samples]
    folder = Path(tempfile.mkdtemp(prefix="melodia-fuzz-"))

    def draw(rng: random.Random) -> str:
        return mutate_text(rng.choice(texts), rng, TOML_ALPHABET)

    def feed(text: str) -> Any:
        path = folder / "fuzzed.toml"
        path.write_text(text, encoding="utf-8")
        return load(path)

    return Target(name, draw, feed)


def template_target() -> Target:
    from melodia.style import load_instrumentation, load_rhythm, stylize

    presets = PACKAGE / "style" / "presets"
    samples = sorted((presets / "instrumentation").glob("*.toml")) + sorted((presets / "rhythm").glob("*.toml"))
    tune = _tune()

    def load(path: Path) -> Any:
        try:
            instrumentation = load_instrumentation(path)
            return stylize(tune, instrumentation=instrumentation)
        except MelodiaError as error:
            if "unknown field" not in str(error) and "is missing" not in str(error):
                raise
        return stylize(tune, rhythm=load_rhythm(path))

    return _toml_target("template", samples, load)


def _tune() -> Any:
    from melodia.seed import parse_seed

    return parse_seed("D4/8 E4/8 F#4 A4 D5/2 C#5/8 B4/8 A4 F#4 E4/2 key=D")[0]


def job_target() -> Target:
    from melodia.apps.batch import grid, load_job

    return _toml_target("job", [EXAMPLE_JOB], lambda path: grid(load_job(path)))


def model_target() -> Target:
    from melodia.lm.model import MelodyLM, ModelConfig
    from melodia.lm.modelfile import load_model, save_model
    from melodia.tokenizers import TokenizerConfig, tokenizer_from_config

    tokenizer = tokenizer_from_config(TokenizerConfig(melody=True))
    model = MelodyLM(ModelConfig(len(tokenizer), embedding_size=8, hidden_size=8, layers=1))
    folder = Path(tempfile.mkdtemp(prefix="melodia-fuzz-"))
    original = save_model(folder / "tiny.safetensors", model, tokenizer, {"corpus": "none"}).read_bytes()

    def draw(rng: random.Random) -> bytes:
        return mutate_bytes(original, rng, rng.randint(1, 3))

    def feed(data: bytes) -> Any:
        path = folder / "fuzzed.safetensors"
        path.write_bytes(data)
        return load_model(path)

    return Target("model", draw, feed)


TARGETS: dict[str, Callable[[], Target]] = {
    "midi": midi_target, "abc": abc_target, "musicxml": musicxml_target, "seed": seed_target,
    "tokens": tokens_target, "template": template_target, "job": job_target, "model": model_target,
}


MEMORY_LIMIT = 8 << 30  # bytes of data segment: a reader that tries to eat all memory fails here


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--save", default="fuzz-failures", help="folder for failing inputs")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
    warnings.simplefilter("ignore")  # mended oddities are expected here; failures are what count
    failed = 0
    print(f"{'target':10} {'tried':>8} {'refused':>8} {'slowest s':>10} {'bound s':>8} {'failures':>9}")
    for name in args.targets.split(","):
        target = TARGETS[name]()
        tally = run_target(target, seconds=args.minutes * 60, random_seed=args.random_seed)
        print(f"{name:10} {tally.tried:8d} {tally.refused:8d} {tally.slowest:10.3f} {target.bound:8.1f} "
              f"{len(tally.failures):9d}", flush=True)
        for number, failure in enumerate(tally.failures):
            failed += 1
            print(f"  {failure.kind}: {failure.detail.strip().splitlines()[-1]}")
            folder = Path(args.save)
            folder.mkdir(parents=True, exist_ok=True)
            data = failure.data if isinstance(failure.data, bytes) else repr(failure.data).encode()
            (folder / f"{name}-{number}.bin").write_bytes(data)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
