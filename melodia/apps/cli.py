"""The `melodia` command: argument parsing and one library call per subcommand.

Heavy imports (numpy, music21, torch) happen inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = "melodia-output"
DEFAULT_OUTPUT_HELP = (f"output folder (default: {DEFAULT_OUTPUT}, or when that holds an earlier run's files, the "
                       f"first of {DEFAULT_OUTPUT}-2, -3, ... that does not; a folder you name keeps its files "
                       "unless --force)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    from melodia.errors import MelodiaError

    warnings.showwarning = _show_warning
    try:
        args.run(args)
    except MelodiaError as error:
        print(f"melodia: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as error:  # a file system refusal melodia did not foresee: still one line
        print(f"melodia: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("melodia: interrupted", file=sys.stderr)
        return 130
    return 0


def _parse(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """The arguments; an option no command knows is refused with the usage of the command it was given to,
    and the closest option that command has."""
    args, unknown = parser.parse_known_args(words)
    if unknown:
        command = _command_parser(parser, words)
        options = [option for action in command._actions for option in action.option_strings]
        close = difflib.get_close_matches(unknown[0].split("=")[0], options, n=1) if unknown[0][:1] == "-" else []
        command.error(f"unrecognized arguments: {' '.join(unknown)}" + (f"; did you mean {close[0]}?" if close else ""))
    return args


def _command_parser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The parser of the (sub)command `words` name: generate's for `generate --seed ...`."""
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    named = [word for word in words if not word.startswith("-")][:1]
    if commands and named and named[0] in commands[0].choices:
        return _command_parser(commands[0].choices[named[0]], words[words.index(named[0]) + 1:])
    return parser


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    print(f"melodia: warning: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="melodia", description="Symbolic music generation: read, tokenize and write music.")
    from melodia.version import __version__

    parser.add_argument("--version", action="version", version=f"melodia {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser("demo", help="round-trip the bundled example piece and write it as MIDI")
    demo.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help="output folder (default: %(default)s)")
    _tokenizer_options(demo)
    demo.set_defaults(run=_demo)

    inspect = commands.add_parser("inspect", help="print tracks, notes, tempo, meter, key, length and form")
    inspect.add_argument("file", help="a MIDI, ABC, MusicXML or Humdrum file")
    inspect.set_defaults(run=_inspect)

    tokenize = commands.add_parser("tokenize", help="print a file's tokens; optionally write them back as MIDI")
    tokenize.add_argument("file", help="a MIDI, ABC, MusicXML or Humdrum file")
    tokenize.add_argument("--roundtrip", metavar="OUT.mid", help="decode the tokens and write them as MIDI")
    tokenize.add_argument("--ids", action="store_true", help="print token ids instead of token names")
    tokenize.add_argument("--force", action="store_true", help="overwrite OUT.mid if it exists")
    _tokenizer_options(tokenize)
    tokenize.set_defaults(run=_tokenize)
    _corpus_commands(commands)
    _model_commands(commands)
    _finetune_commands(commands)
    _generate_command(commands)
    _infill_command(commands)
    _style_command(commands)
    _harmonize_command(commands)
    _batch_command(commands)
    _render_command(commands)
    _play_command(commands)
    _evaluation_commands(commands)
    return parser


def _evaluation_commands(commands: Any) -> None:
    metrics = commands.add_parser("metrics", help="objective metrics of music files")
    metrics.add_argument("files", nargs="+", metavar="FILE", help="music files or folders")
    metrics.add_argument("--json", action="store_true", help="print JSON for scripts")
    _recursive_option(metrics)
    metrics.set_defaults(run=_metrics)
    compare = commands.add_parser("compare", help="compare a generated set with a reference set, metric by metric")
    compare.add_argument("--generated", required=True, nargs="+", metavar="PATH", help="generated files or folders")
    compare.add_argument("--reference", required=True, nargs="+", metavar="PATH|CORPUS",
                         help="reference files or folders, or corpus:NAME[:SPLIT]")
    compare.add_argument("--json", action="store_true", help="print JSON for scripts")
    _recursive_option(compare)
    compare.set_defaults(run=_compare)
    originality = commands.add_parser("originality", help="longest run of notes each piece shares with a corpus")
    originality.add_argument("--corpus", required=True, help="a built corpus")
    originality.add_argument("--split", default="all", choices=("all", "train", "valid", "test"),
                             help="which pieces of the corpus to check against (default: all)")
    originality.add_argument("files", nargs="+", metavar="FILE", help="music files or folders")
    originality.add_argument("--json", action="store_true", help="print JSON for scripts")
    _recursive_option(originality)
    originality.set_defaults(run=_originality)


def _recursive_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="also read the files in a folder's subfolders (by default, only its own files)")


def _read_all(paths: list[str], recursive: bool = False) -> list[tuple[str, Any]]:
    """(name, Score) for every readable file among `paths`: a folder gives its own files, and
    those of its subfolders when `recursive`; bad files are reported and skipped."""
    from melodia.errors import MelodiaError
    from melodia.io import read_score

    scores = []
    for item in paths:
        if item.startswith("corpus:"):
            from melodia.corpus.reader import Corpus

            _, name, *split = item.split(":")
            scores += Corpus.open(name).scores(split[0] if split else None)
            continue
        for file in _folder_files(item, recursive):
            try:
                scores.append((str(file), read_score(file)))
            except MelodiaError as error:
                print(f"melodia: skipped {error}", file=sys.stderr)
    if not scores:
        raise MelodiaError(f"no readable music among {', '.join(paths)}")
    return scores


def _folder_files(item: str, recursive: bool) -> list[Path]:
    """`music_files`, saying on stderr what a folder holds and what its subfolders hold when left out.

    Raises:
        MelodiaError: no such file or folder, or a folder without music files.
    """
    from melodia.errors import MelodiaError
    from melodia.io import SUFFIXES, music_files

    if not Path(item).exists():
        raise MelodiaError(f"{item}: no such file or folder")
    files = music_files(item, recursive)
    if Path(item).is_dir():
        below = 0 if recursive else len(music_files(item)) - len(files)
        left_out = f"; {below} more in its subfolders, not read (pass --recursive)" if below else ""
        if not files:
            raise MelodiaError(f"{item}: no MIDI, ABC, MusicXML or Humdrum files in this folder "
                               f"({', '.join(SUFFIXES)}){left_out}")
        print(f"melodia: {item}: {len(files)} music files{left_out}", file=sys.stderr)
    return files


def _metrics(args: argparse.Namespace) -> None:
    import json

    from melodia.metrics import SCALAR_METRICS, all_metrics

    rows = {name: all_metrics(score) for name, score in _read_all(args.files, args.recursive)}
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    names = list(SCALAR_METRICS)
    for name, values in rows.items():
        print(name)
        for metric in names:
            print(f"  {metric:24}{values[metric]:>10.3f}")


def _compare(args: argparse.Namespace) -> None:
    import json

    from melodia.metrics.compare import compare, format_comparison, summary

    generated = [score for _, score in _read_all(args.generated, args.recursive)]
    reference = [score for _, score in _read_all(args.reference, args.recursive)]
    result = compare(generated, reference)
    if args.json:
        print(f"melodia: {len(generated)} generated pieces against {len(reference)} reference pieces",
              file=sys.stderr)
    print(json.dumps(summary(result), indent=2) if args.json else
          format_comparison(result, len(generated), len(reference)))


def _originality(args: argparse.Namespace) -> None:
    import json

    from melodia.corpus.reader import Corpus
    from melodia.metrics.originality import originality, share_with_runs

    corpus = Corpus.open(args.corpus)
    pieces = _read_all(args.files, args.recursive)
    matches = list(zip([name for name, _ in pieces],
                       originality(pieces, corpus.scores(None if args.split == "all" else args.split)), strict=True))
    shares = share_with_runs([m for _, m in matches])
    if args.json:
        print(json.dumps({"pieces": [{"name": n, "notes": m.notes, "reference": m.reference, "at_note": m.position}
                                     for n, m in matches], "share_with_runs": shares}, indent=2))
        return
    for name, match in matches:
        where = f"with {match.reference} (from note {match.position + 1})" if match.notes else "with nothing"
        print(f"{name}: longest shared run {match.notes} notes {where}")
    print("share of pieces sharing a run of " + ", ".join(f"{k} notes: {v:.1%}" for k, v in shares.items()))


def _render_command(commands: Any) -> None:
    render = commands.add_parser("render", help="a music file as audio (.wav), a piano roll (.png), MusicXML or MIDI")
    render.add_argument("input", help="a MIDI, ABC, MusicXML or Humdrum file")
    render.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="OUT.wav (FluidSynth when installed, else the built-in synthesizer), OUT.png, "
                             "OUT.musicxml or OUT.mid")
    render.add_argument("--force", action="store_true", help="overwrite OUT")
    render.set_defaults(run=_render)


def _render(args: argparse.Namespace) -> None:
    from melodia.io import read_score
    from melodia.media.render import check_output, render

    check_output(args.output, args.force)  # before the input is read
    score = read_score(args.input)
    path = render(score, args.output, force=True)
    if path.suffix.lower() == ".wav":
        from melodia.media.synth import engine

        print(f"wrote {path}: {score.duration_seconds():.1f} s of audio by {engine()}")
    else:
        print(f"wrote {path}" + (": a piano roll" if path.suffix.lower() == ".png" else ""))


def _play_command(commands: Any) -> None:
    play = commands.add_parser("play", help="listen to a music file, or a folder's MIDI files one after another")
    play.add_argument("input", metavar="FILE|FOLDER", help="a MIDI, ABC or MusicXML file, or a folder of MIDI files")
    play.add_argument("--wav-dir", metavar="DIR",
                      help="without an audio output, write the WAVs here, refusing ones that exist unless --force "
                           "(default: the scratch folder $MELODIA_CACHE/play, each play replacing the last)")
    play.add_argument("--force", action="store_true", help="overwrite WAV files that exist")
    play.set_defaults(run=_play)


def _play(args: argparse.Namespace) -> None:
    from melodia.media.play import play

    play(args.input, args.wav_dir, args.force)


def _batch_command(commands: Any) -> None:
    batch = commands.add_parser("batch", help="make a grid of melodies from a job file (resumable, shardable)")
    batch.add_argument("job", help="the job file (TOML): seeds, temperatures, styles, count, ...")
    batch.add_argument("--shard", default="1/1", metavar="I/N", help="make only the I-th of N disjoint slices")
    batch.add_argument("--workers", type=int, metavar="N", help="processes (default: the job's, else 1)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                       help="override one field of the job file: count=2, constraints.form=AABB, or a "
                            "constraint by its flat name, form=AABB")
    batch.set_defaults(run=_batch)


def _batch(args: argparse.Namespace) -> None:
    from melodia.apps.batch import BatchError, load_job, parse_shard, run_batch

    job = load_job(args.job, args.set)
    report = run_batch(job, parse_shard(args.shard), args.workers, progress=not args.quiet)
    print(f"made {report.made}, already there {report.existing}, failed cells {len(report.failed)}; "
          f"manifest {report.manifest}")
    for cell, error in report.failed:
        print(f"failed: {cell}: {error}", file=sys.stderr)
    if report.failed:  # a scheduler reads the exit status, not the text
        listing = Path(str(report.manifest).replace("manifest", "report")).with_suffix(".txt")
        raise BatchError(f"{args.job}: {len(report.failed)} of {report.cells} cells failed (see {listing})")


def _harmonize_command(commands: Any) -> None:
    harmonize = commands.add_parser("harmonize", help="alto, tenor and bass under a melody, as Bach's chorales would")
    harmonize.add_argument("melody", help="a MIDI, ABC or MusicXML file, or note text (\"G4 A4 B4/2 key=G\")")
    harmonize.add_argument("-o", "--output", required=True, metavar="OUT.mid",
                           help="the file to write: .mid, or .musicxml / .xml for four staves of notation")
    harmonize.add_argument("--track", metavar="T", help="the track holding the melody (index from 0, or name)")
    harmonize.add_argument("--temperature", type=float, default=0.5, help="0 for the likeliest (default: %(default)s)")
    harmonize.add_argument("--most-likely", action="store_true",
                           help="let 32 draws at temperature 1 vote on each beat's chord instead")
    harmonize.add_argument("--candidates", type=int, default=8,
                           help="harmonizations drawn; they vote on each beat's chord, and a beam search writes "
                                "the likeliest voices under those chords (default: %(default)s)")
    harmonize.add_argument("--random-seed", type=int, default=0, help="fixes the draws (default: %(default)s)")
    harmonize.add_argument("--chords", metavar="PROGRESSION",
                           help="the harmony, bar by bar (\"Am | Dm G | C | E7\"; default: the chord symbols the "
                                "file carries, else the harmonizer's own)")
    harmonize.add_argument("--model", metavar="FILE", help="a harmonizer file (default: the one shipped)")
    harmonize.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    harmonize.set_defaults(run=_harmonize)


def _harmonize(args: argparse.Namespace) -> None:
    from melodia.errors import MelodiaError
    from melodia.io import read_score, write_score
    from melodia.io.atomic import check_folder, refuse_overwrite

    if Path(args.output).suffix.lower() not in (".mid", ".midi", ".musicxml", ".xml"):
        raise MelodiaError(f"-o {args.output}: expected a .mid, .midi, .musicxml or .xml file")
    check_folder(Path(args.output).parent)
    if not args.force:
        refuse_overwrite(args.output)
    if Path(args.melody).exists():
        melody = read_score(args.melody)
    elif Path(args.melody).suffix.lower() in (".mid", ".midi", ".abc", ".xml", ".musicxml", ".mxl", ".krn"):
        raise MelodiaError(f"{args.melody}: no such file")
    else:
        from melodia.seed import parse_seed

        melody = parse_seed(args.melody)[0]
    if not any(track.notes for track in melody.tracks):
        raise MelodiaError(f"{args.melody}: no notes to harmonize")
    from melodia.harmony import harmonize

    track = int(args.track) if args.track is not None and args.track.isdigit() else args.track
    chorale = harmonize(melody, track, args.model, args.temperature, args.most_likely, args.candidates,
                        args.random_seed, chords=args.chords)
    parts = ", ".join(f"{t.name} ({len(t.notes)} notes)" for t in chorale.tracks)
    print(f"wrote {write_score(chorale, args.output)}: {parts}")


def _style_command(commands: Any) -> None:
    style = commands.add_parser("style", help="the same music for other instruments, in another rhythm or tempo")
    style.add_argument("input", nargs="?", help="a MIDI, ABC or MusicXML file, or a folder of them")
    style.add_argument("--instrumentation", metavar="NAME|FILE", help="an instrumentation preset or TOML file")
    style.add_argument("--rhythm", metavar="NAME|FILE", help="a rhythm preset or TOML file")
    style.add_argument("--style", metavar="NAME|FILE", help="a combined preset (instrumentation, rhythm, tempo)")
    style.add_argument("--tempo", type=float, metavar="BPM", help="quarter notes per minute")
    style.add_argument("--swing", type=float, metavar="RATIO",
                       help="swing each pair of eighths long:short RATIO (2: triplet feel, 3: dotted)")
    style.add_argument("--no-accompaniment", action="store_true",
                       help="leave a bare melody bare (by default harmony, bass and drum parts are filled in)")
    style.add_argument("--chords", metavar="PROGRESSION",
                       help='the harmony to play, bars between "|": "Am | Dm G | C | E7" (repeated over the '
                            "tune); without it, the chord symbols the input carries (MIDI text events, MusicXML "
                            "harmonies, ABC \"Am\" annotations) are played, and else the harmony is estimated")
    style.add_argument("--intro", choices=("none", "vamp", "phrase"),
                       help="an intro: two bars on the tonic, or the tune's last phrase (default: the style's)")
    style.add_argument("--ending", choices=("none", "held"), help="end on a held final chord (default: the style's)")
    style.add_argument("--ritardando", action=argparse.BooleanOptionalAction, default=None,
                       help="slow down over the last two bars (default: the style's)")
    style.add_argument("--list", action="store_true", help="list the presets and stop")
    style.add_argument("-o", "--output", metavar="OUT.mid", help="the MIDI file to write (a folder for a folder)")
    style.add_argument("--force", action="store_true", help="overwrite what is there")
    style.set_defaults(run=_style)


def _style(args: argparse.Namespace) -> None:
    from melodia.errors import MelodiaError
    from melodia.style import load_instrumentation, load_rhythm, load_style, preset_names

    if args.list:
        for kind, load in (("instrumentation", load_instrumentation), ("rhythm", load_rhythm),
                           ("styles", load_style)):
            print(f"{kind}:")
            for name in preset_names(kind):
                print(f"  {name:18} {load(name).description}")
        return
    if not args.input or not args.output:
        raise MelodiaError("style needs an input file and -o OUT.mid (or --list)")
    if not (args.instrumentation or args.rhythm or args.style) and args.tempo is None and args.swing is None:
        raise MelodiaError("style needs --instrumentation, --rhythm, --style, --tempo or --swing "
                           "(see melodia style --list)")
    from melodia.io.atomic import check_folder, refuse_overwrite

    if Path(args.input).is_dir():
        check_folder(args.output)
        _style_folder(args)
        return
    check_folder(Path(args.output).parent)

    if not args.force:
        refuse_overwrite(args.output)
    path, styled = _style_file(args, Path(args.input), Path(args.output))
    parts = ", ".join(f"{t.name} ({len(t.notes)} notes)" for t in styled.tracks if t.notes)
    print(f"wrote {path}: {parts or 'no notes (the input has none)'}")


def _style_file(args: argparse.Namespace, source: Path, target: Path) -> tuple[Path, Any]:
    from melodia.io import read_score, write_score
    from melodia.style import stylize

    styled = stylize(read_score(source), args.instrumentation, args.rhythm, args.tempo, args.style,
                     accompaniment=not args.no_accompaniment, swing=args.swing, chords=args.chords,
                     intro=args.intro, ending=args.ending, ritardando=args.ritardando)
    return write_score(styled, target), styled


def _style_folder(args: argparse.Namespace) -> None:
    """Every music file under the folder, into the output folder as NAME.mid; a file that
    cannot be read or styled is skipped and listed."""
    from melodia.errors import MelodiaError
    from melodia.io import music_files
    from melodia.io.atomic import refuse_overwrite

    source = Path(args.input)
    files = music_files(source)
    targets = [Path(args.output) / file.relative_to(source).with_suffix(".mid") for file in files]
    if not args.force:
        for target in targets:
            refuse_overwrite(target)
    failed = []
    for file, target in zip(files, targets, strict=True):
        try:
            _style_file(args, file, target)
        except MelodiaError as error:
            failed.append(f"skipped {file}: {error}")
    print(f"wrote {len(files) - len(failed)} of {len(files)} files to {args.output}")
    for line in failed:
        print(line, file=sys.stderr)


def _generate_command(commands: Any) -> None:
    generate = commands.add_parser("generate", help="new melodies that continue a seed phrase")
    generate.add_argument("--model", default="default", metavar="FILE",
                          help="a model file, or 'default' for the one shipped in the package (the default)")
    generate.add_argument("--seed", required=True, metavar="NOTES|FILE",
                          help='the seed phrase, e.g. "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8" (a note without a '
                               "length takes the length of the note before: D4/2 F#4 is two half notes), an ABC "
                               "fragment, or a MIDI / ABC / MusicXML file")
    generate.add_argument("--seed-bars", type=int, metavar="N", help="take only the first N bars of a seed file")
    generate.add_argument("--seed-track", type=int, metavar="T", help="take only track T of a seed file")
    generate.add_argument("--count", "--num", dest="num", type=int, default=10, metavar="N",
                          help="how many melodies, as generate(count=) (default: %(default)s)")
    generate.add_argument("--bars", type=int, help="length in bars, seed included (default: 8 unless --notes)")
    generate.add_argument("--key", help='key and mode, e.g. "D dorian" (default: the seed\'s)')
    generate.add_argument("--range", metavar="LOW:HIGH", help="pitch range, e.g. C4:C6")
    generate.add_argument("--max-leap", type=int, metavar="SEMITONES", help="largest leap between notes")
    generate.add_argument("--meter", help="time signature, e.g. 6/8 (default: the seed's)")
    generate.add_argument("--notes", type=int, help="length in notes, seed included (instead of --bars)")
    generate.add_argument("--end-on-tonic", action="store_true",
                          help="end every melody on the key's tonic, on a strong beat, a beat or longer")
    generate.add_argument("--form", metavar="LETTERS",
                          help="phrases that return, e.g. AABB, AABA, ABAC; 'none' for no form (default: by "
                               "length: AA for 8 bars, AABA for 16)")
    generate.add_argument("--phrase-bars", type=int, metavar="N", help="bars per phrase (default: 4 where it fits)")
    generate.add_argument("--tune", choices=("jig", "reel", "hornpipe", "polka", "waltz", "air"),
                          help="whole tunes as played, in the tune type's meter and form (a reel: AABB of 8-bar "
                               "strains, each played twice with first and second endings, 32 bars); --form then "
                               "names the strains (AABB, AABA, ABAC, AABBCC) and --strain-bars their length")
    generate.add_argument("--strain-bars", type=int, metavar="N", help="bars per strain with --tune (default: 8)")
    generate.add_argument("--scale", choices=("strict", "soft", "off"), default="strict",
                          help="strict: only the key's scale; soft: a bias towards it (minor's raised 6th and 7th, "
                               "chromatic passing notes); off: any pitch (default: %(default)s)")
    generate.add_argument("--metre", choices=("free", "strict"),
                          help="strict: a dance tune's metre, no notes tied over bar lines or held across a beat, "
                               "no triplets (default: free; strict for --tune, but for airs)")
    generate.add_argument("--line", choices=("free", "singable"),
                          help="singable: at most 4 notes in a row on one pitch, and a leap of a minor sixth or more "
                               "turns back (default: free; singable for --tune)")
    generate.add_argument("--instrument", help="keep notes in this instrument's range (violin, flute, ...)")
    _control_options(generate)
    _sampling_options(generate)
    generate.add_argument("--top-k", type=int, default=0,
                          help="draw only from the K likeliest tokens at each step (0: all; default: %(default)s)")
    generate.add_argument("--repetition-penalty", type=float, default=1.0,
                          help="above 1, makes the pitches of the last notes less likely to come again (1: off; "
                               "default: %(default)s)")
    generate.add_argument("--beam-size", type=int, default=0, help="beam search with this many beams (0: sample)")
    generate.add_argument("--branch-factor", type=int, default=4, help="tokens each beam tries per step")
    generate.add_argument("--style", metavar="NAME|FILE",
                          help="play each melody in a combined style preset (see melodia style --list)")
    generate.add_argument("--random-seed", type=int, default=0, help="the same number gives the same output")
    generate.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                          help="override one constraint or sampling setting: sampling.temperature=0.9, "
                               "constraints.max_leap=5, or by its flat name, temperature=0.9")
    generate.add_argument("-o", "--output", help=DEFAULT_OUTPUT_HELP)
    generate.add_argument("--force", action="store_true", help="overwrite files in the output folder")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.add_argument("--play", action="store_true",
                          help="play the first melody (without an audio output, write it as a WAV beside it)")
    generate.set_defaults(run=_generate)


def _generate(args: argparse.Namespace) -> None:
    _check_seed_text(args)
    from melodia.lm.generation import SeedFile, generate, read_seed, settings_record, write_outputs

    constraints, controls, sampling = _generation_settings(args)
    moved = _default_output(args, _output_names(args.num, bool(args.tune)))
    _check_generate_paths(args)
    seed: Any = args.seed
    if Path(args.seed).suffix and Path(args.seed).is_file():
        seed = SeedFile(Path(args.seed), args.seed_bars, args.seed_track)
    style = None
    if args.style:
        from melodia.style import load_style, stylize

        style = load_style(args.style)  # before generating: a bad name fails at once
    if args.tune:
        scores = _whole_tunes(args, seed, constraints, controls, sampling)
    else:
        with _sampling_progress(args.num, args.quiet) as progress:
            scores = generate(args.model, seed, args.num, constraints, sampling, args.random_seed, controls=controls,
                              progress=progress)
    if style is not None:
        scores = [stylize(score, style=style) for score in scores]
    settings = settings_record(args.seed, constraints, sampling, args.random_seed, args.model, args.num, controls)
    settings["style"] = args.style
    if args.tune:
        settings.update(tune=args.tune, strain_bars=args.strain_bars, form=scores[0].form and scores[0].form.letters)
    paths = write_outputs(scores, Path(args.output), settings, force=args.force,
                          seed_end_tick=read_seed(seed)[0].end_tick)
    notation = ""
    if args.tune:  # the notation a player reads: each strain once, with repeat signs and first and second endings
        from melodia.io import write_notation

        write_notation(scores, [path.with_suffix(".musicxml") for path in paths], overwrite=args.force)
        notation = " (and the notation of each, with its repeats, as .musicxml)"
    print(f"wrote {len(paths)} MIDI files, a piano roll of each (.png){notation} and manifest.json to "
          f"{args.output}{moved}")
    if args.play:
        from melodia.media.play import play_outputs

        play_outputs(paths, args.force)


def _check_seed_text(args: argparse.Namespace) -> None:
    """A typed seed (notes or ABC) read before torch is loaded, so that a typo is reported at once, with a
    key= that --key contradicts."""
    from melodia.io import seed_file
    from melodia.seed import SeedError, parse_key, read_seed, requested_key

    if seed_file(args.seed) is None:
        named = read_seed(args.seed)[1]
        try:
            asked = parse_key(args.key) if args.key else None
        except SeedError:
            return  # reported with the other constraints
        requested_key(named, asked)


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="below 1, safer and more repetitive draws; above 1, bolder ones (default: %(default)s)")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="draw only from the likeliest tokens that together hold this share of the probability "
                             "(1: all; default: %(default)s)")


def _whole_tunes(args: argparse.Namespace, seed: Any, constraints: Any, controls: Any, sampling: Any) -> list[Any]:
    """`generate --tune`: whole tunes as played (melodia.lm.tunes), their length set by their form."""
    from dataclasses import replace

    from melodia.errors import MelodiaError
    from melodia.lm.tunes import write_tunes

    if args.bars or args.notes or args.phrase_bars:
        raise MelodiaError(f"--tune {args.tune}: the length follows from the form and --strain-bars; leave out "
                           "--bars, --notes and --phrase-bars")
    constraints = replace(constraints, bars=None, form=None, phrase_bars=None)
    tunes = write_tunes(args.model, seed, args.tune, args.num, form=args.form, strain_bars=args.strain_bars,
                        constraints=constraints, controls=controls, sampling=sampling, random_seed=args.random_seed)
    return [tune.played for tune in tunes]


def _control_options(parser: argparse.ArgumentParser) -> None:
    """The soft controls (melodia.lm.controls), which the model is conditioned on."""
    parser.add_argument("--chords", metavar="PROGRESSION",
                        help='chords to write the melody over, per bar, repeated to the length: "D | G | A7 | D" '
                             '(a bar\'s chords share it by beats: "D G | A7 D"); written with the melody as chord '
                             "symbols, which --style then plays")
    parser.add_argument("--density", metavar="N,N,...|CURVE",
                        help="notes per bar, repeated to the length (2,4,4,8), or a curve: steady, rising, falling, "
                             "arch (from half a note to a note per eighth)")
    parser.add_argument("--register", metavar="R,R,...|CURVE",
                        help="low, mid, high or any (none asked) per bar (mid,mid,high,mid), repeated to the length, "
                             "or a curve: steady, rising, falling, arch")


def _infill_command(commands: Any) -> None:
    infill = commands.add_parser("infill", help="write chosen bars of a melody anew, keeping the rest exactly")
    infill.add_argument("file", help="a MIDI, ABC or MusicXML file")
    infill.add_argument("--bars", required=True, metavar="FIRST-LAST", help="the bars to rewrite, from 1: 5-8")
    infill.add_argument("--count", "--num", dest="num", type=int, default=10, metavar="N",
                        help="how many versions, as infill(count=) (default: %(default)s)")
    infill.add_argument("--track", metavar="T", help="the track to rewrite, an index from 0 or a name (needed when "
                                                   "the file has more than one pitched track)")
    infill.add_argument("--model", default="default", metavar="FILE",
                        help="a model trained with infilling (default: the one shipped)")
    infill.add_argument("--key", help='key and mode of the new bars, e.g. "D dorian" (default: the tune\'s)')
    infill.add_argument("--scale", choices=("strict", "soft", "off"), default="strict",
                        help="strict: the key's scale and the tune's own notes; soft: a bias; off: any pitch")
    infill.add_argument("--range", metavar="LOW:HIGH", help="pitch range of the new notes, e.g. C4:C6")
    infill.add_argument("--max-leap", type=int, metavar="SEMITONES", help="largest leap between notes")
    _control_options(infill)
    _sampling_options(infill)
    infill.add_argument("--random-seed", type=int, default=0, help="the same number gives the same output")
    infill.add_argument("-o", "--output", help=DEFAULT_OUTPUT_HELP)
    infill.add_argument("--force", action="store_true", help="overwrite files in the output folder")
    infill.add_argument("--quiet", action="store_true", help="no progress bar")
    infill.set_defaults(run=_infill)


def _infill(args: argparse.Namespace) -> None:
    from melodia.errors import MelodiaError
    from melodia.io.atomic import check_folder, refuse_overwrite
    from melodia.lm.generation import Constraints, Controls, write_outputs
    from melodia.lm.infill import BarSpan, infill
    from melodia.lm.sampler import SamplingConfig

    if args.num < 1:
        raise MelodiaError(f"--num {args.num}: expected 1 or more versions")
    span = BarSpan.read_setting(args.bars, "--bars")
    constraints = Constraints.parse({name: getattr(args, name) for name in ("key", "range", "max_leap", "scale")},
                                    "", "constraints")
    controls = Controls.parse({name: getattr(args, name) for name in ("chords", "density", "register")}, "", "controls")
    sampling = SamplingConfig(temperature=args.temperature, top_p=args.top_p)
    if not Path(args.file).is_file():
        raise MelodiaError(f"{args.file}: no such file; infill rewrites bars of a MIDI, ABC or MusicXML file")
    moved = _default_output(args, _output_names(args.num))
    check_folder(args.output)
    folder = Path(args.output)
    if not args.force:
        for name in _output_names(args.num):
            refuse_overwrite(folder / name)
    track = int(args.track) if args.track is not None and args.track.isdigit() else args.track
    with _sampling_progress(args.num, args.quiet) as progress:
        scores = infill(args.model, Path(args.file), span, args.num, track, constraints, sampling, args.random_seed,
                        controls=controls, progress=progress)
    settings = {"model": args.model, "source": args.file, "bars": str(span), "track": args.track,
                "count": args.num, "random_seed": args.random_seed, "constraints": constraints.as_text(),
                "controls": controls.as_text(), "sampling": {"temperature": args.temperature, "top_p": args.top_p}}
    paths = write_outputs(scores, folder, settings, force=args.force)
    print(f"wrote {len(paths)} MIDI files with bars {span} written anew, a piano roll of each (.png) and "
          f"manifest.json to {args.output}{moved}")


def _generation_settings(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The constraints, controls and sampling settings asked for, checked before any file is touched."""
    from dataclasses import replace

    from melodia.errors import MelodiaError
    from melodia.lm.generation import Constraints, Controls, GenerateError, GenerationSettings
    from melodia.lm.sampler import SamplingConfig
    from melodia.settings import with_overrides

    if args.num < 1:
        raise MelodiaError(f"--num {args.num}: expected 1 or more melodies")
    if args.seed_bars is not None and args.seed_bars < 1:
        raise MelodiaError(f"--seed-bars {args.seed_bars}: expected 1 or more bars")
    constraints = Constraints.parse({name: getattr(args, name) for name in (
        "key", "range", "max_leap", "bars", "notes", "meter", "end_on_tonic", "instrument", "form", "phrase_bars",
        "scale", "metre", "line")}, "", "constraints")
    controls = Controls.parse({name: getattr(args, name) for name in ("chords", "density", "register")}, "", "controls")
    sampling = SamplingConfig(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                              repetition_penalty=args.repetition_penalty, beam_size=args.beam_size,
                              branch_factor=args.branch_factor)
    settings = with_overrides(GenerationSettings(constraints, controls, sampling), args.set, GenerateError)
    constraints = settings.constraints
    if constraints.bars is None and constraints.notes is None:  # 8 bars, unless a form and its phrases give it
        form = constraints.form
        constraints = replace(constraints, bars=None if form and form.lower() != "none" else 8)
    return constraints, settings.controls, settings.sampling


@contextmanager
def _sampling_progress(count: int, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """On stderr, when it is a terminal and not `quiet`, the melodies finished and the sampling steps taken
    (the melodies are drawn together, so most finish near the end); else None."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    steps = 0
    with tqdm(total=count, desc="generating", leave=False,
              bar_format="{desc}: {n_fmt}/{total_fmt} melodies{postfix} [{elapsed}]") as bar:
        def advance(finished: int) -> None:
            nonlocal steps
            steps += 1
            bar.total = max(bar.total, bar.n + finished)  # melodies drawn again count too
            bar.set_postfix_str(f"step {steps}", refresh=False)
            bar.update(finished)  # also when 0: the display keeps moving

        yield advance


def _check_generate_paths(args: argparse.Namespace) -> None:
    """Before any sampling: the output folder can be made, and a seed that names a file names one."""
    from melodia.io import seed_file
    from melodia.io.atomic import check_folder, refuse_overwrite

    check_folder(args.output)
    seed_file(args.seed)
    if not args.force:
        for name in _output_names(args.num, bool(getattr(args, "tune", None))):
            refuse_overwrite(Path(args.output) / name)


def _taken(folder: Path, names: list[str]) -> bool:
    """Whether `folder` is a file, or holds one of `names`."""
    return (folder.exists() and not folder.is_dir()) or any((folder / name).exists() for name in names)


def _output_names(count: int, notation: bool = False) -> list[str]:
    """The files `generate` and `infill` write into their output folder (`generate --tune`: with notation)."""
    suffixes = (".mid", ".png", ".musicxml") if notation else (".mid", ".png")
    return [f"{index + 1:03d}{suffix}" for index in range(max(count, 0)) for suffix in suffixes] + ["manifest.json"]


def _default_output(args: argparse.Namespace, names: list[str]) -> str:
    """Without -o: melodia-output, or when an earlier run's files are there (and no --force), the first of
    melodia-output-2, -3, ... free of them, so that running a command again works and replaces nothing.
    Returns a note for the closing line when the folder is not melodia-output."""
    if args.output is not None:
        return ""
    args.output, number = DEFAULT_OUTPUT, 1
    while not args.force and _taken(Path(args.output), names):
        number += 1
        args.output = f"{DEFAULT_OUTPUT}-{number}"
    return f" ({DEFAULT_OUTPUT} holds an earlier run's files; -o DIR names a folder)" if number > 1 else ""


def _model_commands(commands: Any) -> None:
    train = commands.add_parser("train", help="train a model on a built corpus (resumable; works under torchrun)")
    train.add_argument("--corpus", help="the corpus to train on (default: the config's, else folk)")
    train.add_argument("--config", metavar="FILE", help="training settings, TOML or JSON")
    train.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                       help="override one setting: model.hidden_size=64, or by its flat name, hidden_size=64")
    train.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file to write")
    train.add_argument("--resume", action="store_true", help="continue from MODEL.ckpt")
    train.add_argument("--force", action="store_true", help="overwrite MODEL if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)
    evaluate = commands.add_parser("evaluate", help="NLL of pieces under a model, beside an n-gram baseline")
    evaluate.add_argument("--model", action="append", metavar="FILE",
                          help="a model file, or 'default' for the one shipped in the package (the default); "
                               "given more than once, the mixture of those models (trained alike)")
    evaluate.add_argument("inputs", nargs="+", metavar="INPUT",
                          help="music files or folders, or corpus:NAME:SPLIT for a split of a built corpus")
    evaluate.add_argument("--baseline", action="store_true",
                          help="also score with an n-gram model fitted on the model's training corpus")
    evaluate.add_argument("--transpositions", type=int, default=0, metavar="K",
                          help="average the model's probability over transpositions by -K..K semitones")
    evaluate.add_argument("--tempering", type=float, default=1.0, metavar="B",
                          help="with --transpositions: how far each transposition's weight follows how well it "
                               "predicted the piece so far (1: the mean of whole-piece probabilities, the default; "
                               "0: equal weights at every token)")
    evaluate.add_argument("--forgetting", type=float, default=1.0, metavar="G",
                          help="how much a token counts in the mixture's weights one token later (1: fully, the "
                               "default, every token before counts alike; 0.95: the weights follow the last few "
                               "dozen tokens)")
    evaluate.add_argument("--ngram-weight", type=float, default=0.0, metavar="W",
                          help="mix in the n-gram fitted on the model's training split as one more component, of "
                               "prior weight W (default 0: none)")
    evaluate.add_argument("--json", action="store_true", help="print JSON for scripts")
    evaluate.set_defaults(run=_evaluate)


def _train(args: argparse.Namespace) -> None:
    from melodia.io.atomic import refuse_overwrite
    from melodia.lm.train import TrainConfig, train

    config = TrainConfig.from_file(Path(args.config)) if args.config else TrainConfig()
    if args.corpus:
        config = config.with_overrides([f"corpus={args.corpus}"])
    config = config.with_overrides(args.set)
    output = Path(args.output)
    if not args.resume and not args.force:
        refuse_overwrite(output)
    record = train(config, output, resume=args.resume, progress_bar=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process reports
        print(f"wrote {output}: {record['steps']} steps, best valid loss {record['valid_loss']:.4f} nats/token "
              f"(epoch {record['best_epoch'] + 1})")


def _evaluate(args: argparse.Namespace) -> None:
    import json

    from melodia.lm.evaluate import evaluate, format_scores

    report = evaluate([Path(model) for model in args.model or ["default"]], args.inputs, baseline=args.baseline,
                      transpositions=args.transpositions, tempering=args.tempering,
                      forgetting=args.forgetting, ngram_weight=args.ngram_weight,
                      say=lambda line: print(line, file=sys.stderr))
    print(json.dumps(report, indent=2) if args.json else format_scores(report))


def _corpus_commands(commands: Any) -> None:
    corpus = commands.add_parser("corpus", help="build and describe training corpora")
    actions = corpus.add_subparsers(title="corpus commands", metavar="ACTION")
    build = actions.add_parser("build", help="parse and tokenize a corpus into the cache (incremental)")
    build.add_argument("corpus", help="a corpus name (folk, chorales, jsb), a recipe .toml or a folder of files")
    build.add_argument("--workers", type=int, help="processes to use (default: one per CPU)")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(run=_corpus_build)
    stats = actions.add_parser("stats", help="pieces, notes, tokens, vocabulary use and split sizes")
    stats.add_argument("corpus", help="a built corpus: its name, or the folder it was built into")
    stats.add_argument("--json", action="store_true", help="print JSON for scripts")
    stats.set_defaults(run=_corpus_stats)
    listing = actions.add_parser("list", help="the named corpus recipes")
    listing.set_defaults(run=_corpus_list)


def _corpus_build(args: argparse.Namespace) -> None:
    from melodia.corpus import build_corpus, find_recipe

    recipe = find_recipe(args.corpus)
    result = build_corpus(recipe, workers=args.workers, progress=not args.quiet)
    state = "up to date" if result.up_to_date else (
        f"{result.files_parsed} files parsed, {result.files_cached} taken from the cache")
    print(f"corpus {recipe.name}: {result.pieces} pieces built, {result.skipped} skipped, {result.altered} altered "
          f"({state}) in {result.seconds:.1f} s")
    print(f"cache: {result.folder} (report: {result.folder / 'report.txt'})")


def _corpus_stats(args: argparse.Namespace) -> None:
    import json

    from melodia.corpus.reader import corpus_stats, format_stats

    stats = corpus_stats(args.corpus)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))


def _corpus_list(args: argparse.Namespace) -> None:
    from melodia.corpus import corpus_names, find_recipe

    for name in corpus_names():
        recipe = find_recipe(name)
        print(f"{name:10} {recipe.description}")


def _tokenizer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheme", choices=("metrical", "performance"), default="metrical",
                        help="token scheme (default: %(default)s)")
    parser.add_argument("--melody", action="store_true", help="keep only the top monophonic line")
    parser.add_argument("--tokenizer", metavar="JSON", help="a saved tokenizer (its config and vocabulary)")


def _make_tokenizer(args: argparse.Namespace) -> Any:
    from melodia.tokenizers import TokenizerConfig, load_tokenizer, tokenizer_from_config

    if args.tokenizer:
        return load_tokenizer(args.tokenizer)
    return tokenizer_from_config(TokenizerConfig(scheme=args.scheme, melody=args.melody))


def _inspect(args: argparse.Namespace) -> None:
    from melodia.io import inspect

    print(inspect(args.file))


def _tokenize(args: argparse.Namespace) -> None:
    from melodia.io import read_score, write_score
    from melodia.io.atomic import refuse_overwrite

    if args.roundtrip and not args.force:
        refuse_overwrite(args.roundtrip)
    tokenizer = _make_tokenizer(args)
    tokens = tokenizer.encode(read_score(args.file))
    words = [str(t) for t in tokens] if args.ids else tokenizer.to_strings(tokens)
    print(" ".join(words))
    if args.roundtrip:
        path = write_score(tokenizer.decode(tokens), args.roundtrip)
        print(f"wrote {path}", file=sys.stderr)


def _demo(args: argparse.Namespace) -> None:
    from melodia.io import read_score, write_score
    from melodia.resources import example_path

    source = example_path()
    tokenizer = _make_tokenizer(args)
    score = read_score(source)
    tokens = tokenizer.encode(score)
    decoded = tokenizer.decode(tokens)
    exact = decoded == tokenizer.quantize(score)
    target = Path(args.output) / f"{source.stem}-roundtrip.mid"
    write_score(decoded, target)
    print(score.summary())
    print(f"{tokenizer.config.scheme} tokens: {len(tokens)} from {score.note_count} notes "
          f"(vocabulary {len(tokenizer)}); round trip {'exact' if exact else 'NOT exact'}")
    print(f"first tokens: {' '.join(tokenizer.to_strings(tokens[:16]))} ...")
    print(f"wrote {target}")


def _finetune_commands(commands: Any) -> None:
    finetune = commands.add_parser("finetune", help="fine-tune a model on your own files and the melodies you kept")
    finetune.add_argument("--from", dest="base", default="default", metavar="MODEL",
                          help="the model to start from: a model file, or 'default' (the default)")
    finetune.add_argument("--folder", metavar="DIR", help="your MIDI / ABC / MusicXML files (10 to 200 work)")
    finetune.add_argument("--kept", metavar="DIR", action="append", default=[],
                          help="a folder of outputs whose manifest marks some kept (melodia keep); repeatable")
    finetune.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file to write")
    finetune.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                          help="override a training setting: epochs=10, lr=0.001 (see melodia.lm.finetune)")
    finetune.add_argument("--skip-unfit", action="store_true",
                          help="leave out files the base model's tokenizer cannot encode instead of stopping")
    finetune.add_argument("--no-guard", action="store_true", help="skip the memorization check afterwards")
    finetune.add_argument("--resume", action="store_true",
                          help="continue from the run's last checkpoint (kept in MELODIA_CACHE)")
    finetune.add_argument("--force", action="store_true", help="overwrite MODEL if it exists")
    finetune.add_argument("--quiet", action="store_true", help="no progress bar")
    finetune.set_defaults(run=_finetune)
    keep = commands.add_parser("keep", help="mark outputs kept in their folder's manifest (finetune --kept reads it)")
    keep.add_argument("files", nargs="+", metavar="FILE", help="melodies to mark, such as out/003.mid")
    keep.add_argument("--drop", action="store_true", help="take the mark off instead")
    keep.add_argument("--add", action="store_true",
                      help="list a file no manifest lists in its folder's manifest.json (made when missing), as "
                           "kept; without it, such a file is refused")
    keep.set_defaults(run=_keep)
    discard = commands.add_parser("discard", help="mark outputs discarded in their folder's manifest (melodia learn "
                                                  "reads it)")
    discard.add_argument("files", nargs="+", metavar="FILE", help="melodies to mark, such as out/004.mid")
    discard.add_argument("--add", action="store_true",
                         help="list a file no manifest lists in its folder's manifest.json (made when missing)")
    discard.set_defaults(run=_discard)
    rate = commands.add_parser("rate", help="rate an output 1 (worst) to 5 (best) in its folder's manifest")
    rate.add_argument("file", metavar="FILE", help="the melody to rate, such as out/005.mid")
    rate.add_argument("rating", metavar="N", help="1 to 5")
    rate.add_argument("--add", action="store_true",
                      help="list a file no manifest lists in its folder's manifest.json (made when missing)")
    rate.set_defaults(run=_rate)
    learn = commands.add_parser("learn", help="a personal model from the melodies you kept, discarded and rated")
    learn.add_argument("--from", dest="base", default="default", metavar="MODEL",
                       help="the model to start from and to stay near: a model file, or 'default' (the default)")
    learn.add_argument("--feedback", metavar="DIR", nargs="+", action="extend", default=[],
                       help="folders of melodies marked with melodia keep / discard / rate (or the studio)")
    learn.add_argument("--folder", metavar="DIR", help="your own MIDI / ABC / MusicXML files, learnt as liked")
    learn.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file to write")
    learn.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                       help="a learning setting: objective=dpo, steps=60, anchor=2 (see melodia.lm.learn)")
    learn.add_argument("--force", action="store_true", help="overwrite MODEL if it exists")
    learn.set_defaults(run=_learn)


def _finetune(args: argparse.Namespace) -> None:
    from melodia.io.atomic import refuse_overwrite
    from melodia.lm.finetune import finetune, guard_report_path, summary

    output = Path(args.output)
    if not args.resume and not args.force:
        refuse_overwrite(output)
    record = finetune(args.base, output, Path(args.folder) if args.folder else None, [Path(k) for k in args.kept],
                      overrides=args.set, resume=args.resume, progress_bar=not args.quiet,
                      skip_unfit=args.skip_unfit, guard=not args.no_guard)
    print(summary(record, output))
    if not args.no_guard:
        print(f"memorization check: {guard_report_path(output)}")


def _keep(args: argparse.Namespace) -> None:
    from melodia.feedback import keep

    for name in args.files:
        changed = keep(name, drop=args.drop, add=args.add)
        where = ", ".join(str(p) for p in changed) or "no manifest (it had no mark)"
        print(f"{'dropped' if args.drop else 'kept'} {name} in {where}")


def _discard(args: argparse.Namespace) -> None:
    from melodia.feedback import discard

    for name in args.files:
        changed = discard(name, add=args.add)
        print(f"discarded {name} in {', '.join(str(p) for p in changed)}")


def _rate(args: argparse.Namespace) -> None:
    from melodia.feedback import FeedbackError, rate

    if not args.rating.strip().isdigit():
        raise FeedbackError(f"{args.file}: rating {args.rating!r}; a rating is a whole number from 1 (worst) to 5 "
                            "(best)")
    changed = rate(args.file, int(args.rating), add=args.add)
    print(f"rated {args.file} {int(args.rating)} in {', '.join(str(p) for p in changed)}")


def _learn(args: argparse.Namespace) -> None:
    from melodia.io.atomic import check_folder, refuse_overwrite
    from melodia.lm.learn import LearnSettings, learn, summary

    settings = LearnSettings().with_overrides(args.set)
    output = Path(args.output)
    check_folder(output.parent)
    if not args.force:
        refuse_overwrite(output)
    record = learn(args.base, [Path(f) for f in args.feedback], output,
                   Path(args.folder) if args.folder else None, settings=settings)
    print(summary(record, output))


if __name__ == "__main__":
    sys.exit(main())
