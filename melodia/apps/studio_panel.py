"""The studio's panel, built on ipywidgets: it shows in JupyterLab, Jupyter Notebook, VS Code and Voila.

    import melodia
    melodia.studio(model="default", folder="melodia-kept")

A seed-phrase field (its parse error shown under it when the user leaves it), the settings (key, meter,
bars, form, temperature, top-p, style, range, largest leap, scale, ending), Generate with a
progress bar, then one row per candidate: its piano roll, an audio player, the notes as
text, a notation toggle, Keep and Discard, a restyle menu and a MIDI download. Everything
runs in the kernel (see `melodia.apps.studio_session` for the logic). Below Generate, "Learn from my
choices" makes a personal model from the melodies kept and discarded so far (`melodia.lm.learn`), which
generates from then on: the round number and the marks it learnt from are shown, and the model menu
goes back to an earlier round's model. The CSS classes `melodia-*` name
the parts for tests and for styling.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from melodia.apps.studio_session import (
    DEFAULT_FOLDER,
    INFILLING_NOTE,
    NO_STYLE,
    Candidate,
    Studio,
    StudioSettings,
    bar_count,
    note_text,
    with_next_seed,
)
from melodia.errors import MelodiaError

METERS = ("the seed's", "2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "5/4", "7/8")
LEAPS = ("any", *(str(n) for n in range(1, 13)))
SCALES = ("strict", "soft", "off")
PROGRESS_EVERY = 4  # sampling steps between progress-bar updates (each is a message to the browser)
STEPS_PER_BAR = 7.0  # sampling steps (tokens) a bar takes, about: the first run's progress bar; then the last run's
ERROR_STYLE = "color:#b00020"


def _widgets() -> Any:
    try:
        import ipywidgets
    except ImportError:
        raise MelodiaError("melodia.studio needs the Python package 'ipywidgets': pip install 'melodia[notebook]'"
                           ) from None
    return ipywidgets


class StudioPanel:
    """The panel over a `Studio`; a notebook shows it as the value of a cell.

    Attributes:
        studio: the logic: model, candidates, kept folder.
        widget: the whole panel (an ipywidgets VBox).
        rows: candidate number -> that candidate's row (a VBox).
    """

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.rows: dict[int, Any] = {}
        self._steps_per_bar = STEPS_PER_BAR
        self._listing = False
        self._build()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _build(self) -> None:
        widgets = _widgets()
        defaults = StudioSettings()
        narrow, label = widgets.Layout(width="16em"), {"description_width": "initial"}
        self.seed = _text(value=defaults.seed, description="seed", layout=widgets.Layout(width="40em"),
                                 placeholder="notes such as D4 E4 F#4/8, an ABC fragment, or a file's path")
        self.seed_error = widgets.HTML()
        self.seed.observe(lambda _: self._check_seed(), names="value")
        self.key = _text(description="key", placeholder="the seed's", layout=narrow)
        self.meter = widgets.Dropdown(options=METERS, description="meter", layout=narrow)
        self.bars = widgets.BoundedIntText(value=defaults.bars, min=2, max=64, description="bars", layout=narrow)
        self.form = _text(description="form", placeholder="AA for 8 bars, AABA for 16", layout=narrow)
        self.count = widgets.BoundedIntText(value=defaults.count, min=1, max=16, description="melodies",
                                            layout=narrow)
        self.temperature = widgets.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.05, description="temperature",
                                               style=label)
        self.top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p", style=label)
        self.style = widgets.Dropdown(options=_style_options(), description="style", layout=narrow)
        self.pitch_range = _text(description="range", placeholder="C4:C6", layout=narrow)
        self.max_leap = widgets.Dropdown(options=LEAPS, description="max leap", layout=narrow)
        self.scale = widgets.Dropdown(options=SCALES, description="scale", layout=narrow)
        self.end_on_tonic = widgets.Checkbox(description="end on the tonic", indent=False)
        self.random_seed = widgets.IntText(value=0, description="random seed", layout=narrow, style=label)
        self.generate_button = widgets.Button(description="Generate", button_style="primary", icon="music")
        self.generate_button.on_click(lambda _: self.generate())
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(visibility="hidden"))
        self.status = widgets.HTML()
        self.candidates_box = widgets.VBox()
        self.learn_button = widgets.Button(description="Learn from my choices", icon="graduation-cap",
                                           tooltip="a personal model from the melodies kept and discarded so far",
                                           layout=widgets.Layout(width="16em"))
        self.learn_button.on_click(lambda _: self.learn())
        self.models = widgets.Dropdown(options=self._model_options(), value=0, description="model",
                                       layout=widgets.Layout(width="28em"))
        self.models.observe(lambda change: self.go_back(change["new"]), names="value")
        self.round_status = widgets.HTML(self._round_text())
        controls = widgets.VBox([
            widgets.HBox([self.seed]), self.seed_error,
            widgets.HBox([self.key, self.meter, self.bars, self.form]),
            widgets.HBox([self.temperature, self.top_p, self.count]),
            widgets.HBox([self.style, self.pitch_range, self.max_leap, self.scale]),
            widgets.HBox([self.end_on_tonic, self.random_seed]),
            widgets.HBox([self.generate_button, self.progress]), self.status,
            widgets.HBox([self.learn_button, self.models]), self.round_status])
        for part, name in ((self.seed, "seed"), (self.seed_error, "seed-error"), (self.generate_button, "generate"),
                           (self.progress, "progress"), (self.status, "status"), (self.candidates_box, "candidates"),
                           (self.learn_button, "learn"), (self.models, "models"), (self.round_status, "round")):
            part.add_class(f"melodia-{name}")
        title = widgets.HTML(f"<b>melodia studio</b> &middot; model {html.escape(self.studio.model_name)} &middot; "
                             f"kept melodies go to {html.escape(str(self.studio.folder))}/")
        self.widget = widgets.VBox([title, controls, self.candidates_box])
        self.widget.add_class("melodia-studio")

    def _model_options(self) -> list[tuple[str, int]]:
        return [(chosen.label(), index) for index, chosen in enumerate(self.studio.rounds)]

    def _round_text(self) -> str:
        chosen = self.studio.rounds[self.studio.current]
        learnt = (f"the personal model of round {chosen.number}, learnt from {chosen.marks} marks" if chosen.number
                  else "the starting model, nothing learnt yet")
        return f"<b>round {self.studio.round}</b> &middot; generating with {html.escape(learnt)}"

    def learn(self) -> None:
        """What the Learn button does: a personal model from the folder's marks; it generates from now on."""
        self.learn_button.disabled = True
        self.round_status.value = "learning from your choices..."
        try:
            self.studio.learn()
        except MelodiaError as error:
            self.round_status.value = f'<span style="{ERROR_STYLE}">{html.escape(str(error))}</span>'
            return
        finally:
            self.learn_button.disabled = False
        self._show_round()

    def go_back(self, index: int) -> None:
        """What the model menu does: generate with an earlier (or later) personal model, or the starting one."""
        if index != self.studio.current and not self._listing:
            self.studio.go_back(index)
            self._show_round()

    def _show_round(self) -> None:
        self._listing = True  # new options may move the menu's value on their own: not the user's choice
        try:
            self.models.options = self._model_options()
            self.models.value = self.studio.current
        finally:
            self._listing = False
        self.round_status.value = self._round_text()

    def settings(self) -> StudioSettings:
        """The controls' values as `StudioSettings`."""
        return StudioSettings(
            seed=self.seed.value, count=self.count.value, bars=self.bars.value, key=self.key.value,
            meter="" if self.meter.value == METERS[0] else self.meter.value, form=self.form.value,
            temperature=self.temperature.value, top_p=self.top_p.value,
            style="" if self.style.value == NO_STYLE else self.style.value, pitch_range=self.pitch_range.value,
            max_leap=None if self.max_leap.value == LEAPS[0] else int(self.max_leap.value),
            end_on_tonic=self.end_on_tonic.value, scale=self.scale.value, random_seed=self.random_seed.value)

    def _check_seed(self) -> bool:
        error = self.studio.check_seed(self.seed.value)
        self.seed_error.value = f'<span style="{ERROR_STYLE}">{html.escape(error)}</span>' if error else ""
        return not error

    def generate(self) -> None:
        """What the Generate button does: new candidates from the controls' settings, shown as rows."""
        if not self._check_seed():
            self.status.value = ""
            return
        settings = self.settings()
        self.generate_button.disabled = True
        self.progress.layout.visibility = "visible"
        self.progress.value, self.progress.max = 0, max(round(self._steps_per_bar * settings.bars), 2)
        self.status.value = f"generating {settings.count} melodies..."
        steps = 0

        def advance(_finished: int) -> None:
            nonlocal steps
            steps += 1
            if steps % PROGRESS_EVERY == 0:
                self.progress.value = min(steps, self.progress.max - 1)

        try:
            candidates = self.studio.generate(settings, progress=advance)
            self.progress.value = self.progress.max
            self._steps_per_bar = steps / settings.bars
            old_rows = list(self.rows.values())
            self.rows = {c.number: self._row(c) for c in candidates}
            self.candidates_box.children = tuple(self.rows.values())
            for row in old_rows:
                _close(row)  # or their widgets, audio included, would stay in the kernel and the browser
            self.status.value = (f"{len(candidates)} melodies, random seed {settings.random_seed}; "
                                 "Keep the ones you like")
            self.random_seed.value = with_next_seed(settings).random_seed
        except MelodiaError as error:
            self.status.value = f'<span style="{ERROR_STYLE}">{html.escape(str(error))}</span>'
        finally:
            self.generate_button.disabled = False
            self.progress.layout.visibility = "hidden"

    def _row(self, candidate: Candidate) -> Any:
        return CandidateRow(self, candidate).widget

    def drop(self, number: int) -> None:
        """Take candidate `number`'s row off the panel."""
        row = self.rows.pop(number, None)
        self.candidates_box.children = tuple(self.rows.values())
        if row is not None:
            _close(row)


class CandidateRow:
    """One candidate on the panel: its header, piano roll, audio and download; Keep, Discard, restyle, notation and
    redo bars; a line for what happened."""

    def __init__(self, panel: StudioPanel, candidate: Candidate) -> None:
        self.panel, self.candidate, self.studio = panel, candidate, panel.studio
        widgets = _widgets()
        self.header = widgets.HTML()
        self.roll = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", align_self="flex-start"))
        self.audio = widgets.Audio(format="wav", autoplay=False, loop=False, controls=True)
        self.download = widgets.HTML()
        self.keep = widgets.Button(description="Keep", icon="check", button_style="success")
        self.discard = widgets.Button(description="Discard", icon="times")
        self.restyle = widgets.Dropdown(options=_style_options(), value=candidate.style or NO_STYLE,
                                        description="restyle", layout=widgets.Layout(width="16em"))
        self.notation = widgets.ToggleButton(description="notation", icon="music")
        bars = bar_count(candidate.melody)
        self.redo_bars = _text(value=f"{bars // 2 + 1}-{bars}" if bars > 1 else "1", description="bars",
                                      layout=widgets.Layout(width="10em"))
        self.redo = widgets.Button(description="redo bars", icon="refresh", disabled=not self.studio.can_infill,
                                   tooltip="write these bars anew, keeping the rest" if self.studio.can_infill
                                   else INFILLING_NOTE)
        self.sheet = widgets.HTML(layout=widgets.Layout(display="none"))
        self.message = widgets.HTML()
        for name in ("header", "keep", "discard", "restyle", "notation", "redo", "redo_bars", "sheet", "message",
                     "audio", "download"):
            getattr(self, name).add_class(f"melodia-{name}")
        self.roll.add_class("melodia-pianoroll")
        self.keep.on_click(self.on_keep)
        self.redo.on_click(self.on_redo)
        self.discard.on_click(self.on_discard)
        self.restyle.observe(self.on_restyle, names="value")
        self.notation.observe(self.on_notation, names="value")
        self.show()
        self.widget = widgets.VBox(
            [self.header, self.roll, widgets.HBox([self.audio, self.download]),
             widgets.HBox([self.keep, self.discard, self.restyle, self.notation, self.redo_bars, self.redo]),
             self.message, self.sheet],
            layout=widgets.Layout(border="1px solid #ddd", padding="6px", margin="4px 0"))
        self.widget.add_class("melodia-candidate")

    def show(self) -> None:
        candidate = self.candidate
        self.header.value = (f"<b>#{candidate.number}</b> {html.escape(candidate.summary())}"
                             f"{' in ' + html.escape(candidate.style) if candidate.style else ''}: "
                             f"<code>{html.escape(note_text(candidate.melody))}</code>")
        self.roll.value = candidate.pianoroll_png()
        self.audio.value = candidate.wav()
        self.download.value = _download_link(candidate)

    def fail(self, error: MelodiaError) -> None:
        self.message.value = f'<span style="{ERROR_STYLE}">{html.escape(str(error))}</span>'

    def on_keep(self, _: Any) -> None:
        try:
            path = self.studio.keep(self.candidate)
        except MelodiaError as error:
            self.fail(error)
            return
        self.keep.disabled, self.keep.description = True, "Kept"
        self.message.value = f"kept as {html.escape(str(path))}"

    def on_discard(self, _: Any) -> None:
        try:
            self.studio.discard(self.candidate)  # written with "keep": false, for learning
        except MelodiaError as error:
            self.fail(error)
            return
        self.panel.drop(self.candidate.number)

    def on_restyle(self, change: dict[str, Any]) -> None:
        try:
            self.candidate.restyle(None if change["new"] == NO_STYLE else change["new"])
            self.show()
            self.message.value = "" if self.candidate.kept_as is None else self.message.value
        except MelodiaError as error:
            self.fail(error)

    def on_notation(self, change: dict[str, Any]) -> None:
        if change["new"] and not self.sheet.value:
            try:
                self.sheet.value = self.candidate.notation_svg()
            except MelodiaError as error:
                self.sheet.value = f'<span style="{ERROR_STYLE}">{html.escape(str(error))}</span>'
        self.sheet.layout.display = "block" if change["new"] else "none"

    def on_redo(self, _: Any) -> None:
        try:
            self.studio.redo(self.candidate, self.redo_bars.value)
        except MelodiaError as error:
            self.fail(error)
            return
        self.keep.disabled, self.keep.description = False, "Keep"
        self.sheet.value, self.notation.value = "", False
        self.message.value = f"bars {html.escape(self.redo_bars.value)} written anew"
        self.show()


def _text(**options: Any) -> Any:
    """A text field whose value reaches the kernel when the user leaves it (Tab, Enter, or a click on Generate),
    in one message: typed key by key, a busy kernel could take a button's click before the field's last keys, and
    draw from the seed as it was (the browser test saw it on a loaded machine)."""
    return _widgets().Text(continuous_update=False, **options)


def _close(widget: Any) -> None:
    """Close a widget and every widget inside it."""
    for child in getattr(widget, "children", ()):
        _close(child)
    widget.close()


def _style_options() -> tuple[str, ...]:
    from melodia.style import preset_names

    return (NO_STYLE, *preset_names("styles"))


def _download_link(candidate: Candidate) -> str:
    """An HTML link that saves the candidate's MIDI file, the file inside the link (no server needed)."""
    data = base64.b64encode(candidate.midi()).decode("ascii")
    name = html.escape(candidate.file_name())
    return f'<a download="{name}" href="data:audio/midi;base64,{data}">download {name}</a>'


def studio(model: Any = "default", folder: str = DEFAULT_FOLDER) -> StudioPanel:
    """The studio panel over `model` (a model file, "default", or a loaded (model, tokenizer) pair),
    keeping melodies in `folder`. Show it as a cell's value."""
    _widgets()
    return StudioPanel(Studio(model, folder))
