"""A text prompt read as settings for the MIDI path: one fixed word table, the same every time.

MusicGPT hears a prompt as a whole; the symbolic models cannot read text, so the same words
steer them through this table (docs/prompts.md prints it):

    instruments   the first named plays the melody (every pitched track of a one-track
                  model); a second named plays the other tracks: "flute and strings"
    tempo         a number with bpm/qpm ("92 bpm") wins over a word ("slow" 70, "upbeat" 124)
    mood          the first mood word sets the mode: calm, happy, bright -> major;
                  dark, sad, melancholy -> minor (composer.modes moves each loop there)
    density       sparse, minimal -> the model samples cooler (x0.8): plainer, likelier
                  notes; busy, complex -> warmer (x1.25)
    style         pop -> the pop model; chorale, hymn, bach -> gan; folk, jig, reel -> lstm

Words the table does not know are ignored (MusicGPT still gets them all); "not sad" is read
as "sad". Flags a user types win over the prompt's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# GM programs, 0-based. Two-word names are matched before one-word ones.
INSTRUMENTS: dict[str, int] = {
    "grand piano": 0, "piano": 0, "keys": 0, "electric piano": 4, "rhodes": 4,
    "harpsichord": 6, "celesta": 8, "glockenspiel": 9, "music box": 10, "vibraphone": 11,
    "vibes": 11, "marimba": 12, "xylophone": 13, "bells": 14, "organ": 16,
    "church organ": 19, "accordion": 21, "harmonica": 22, "guitar": 24,
    "acoustic guitar": 25, "nylon guitar": 24, "electric guitar": 27, "jazz guitar": 26,
    "distorted guitar": 30, "bass": 33, "synth bass": 38, "violin": 40, "viola": 41,
    "cello": 42, "contrabass": 43, "harp": 46, "strings": 48, "string": 48,
    "orchestra": 48, "orchestral": 48, "choir": 52, "voices": 52, "voice": 53, "vocal": 53,
    "trumpet": 56, "trombone": 57, "tuba": 58, "horn": 60, "french horn": 60, "brass": 61,
    "sax": 65, "saxophone": 65, "oboe": 68, "bassoon": 70, "clarinet": 71, "piccolo": 72,
    "flute": 73, "recorder": 74, "pan flute": 75, "whistle": 78, "ocarina": 79,
    "synth": 81, "synth lead": 81, "pad": 89, "synth pad": 89, "sitar": 104,
    "banjo": 105, "koto": 107, "kalimba": 108, "bagpipe": 109, "fiddle": 110,
    "steel drums": 114,
}
TEMPO_WORDS: dict[str, float] = {
    "very slow": 56, "largo": 56, "slow": 70, "ballad": 72, "adagio": 72, "chill": 84,
    "relaxed": 84, "laid back": 84, "lazy": 80, "andante": 90, "moderate": 104,
    "medium": 104, "walking": 104, "upbeat": 124, "dance": 124, "allegro": 132,
    "fast": 140, "energetic": 136, "driving": 136, "very fast": 170, "presto": 170,
    "frantic": 176,
}
MOOD_WORDS: dict[str, str] = {
    **dict.fromkeys(("happy", "bright", "joyful", "cheerful", "uplifting", "sunny",
                     "hopeful", "playful", "triumphant", "calm", "peaceful", "serene",
                     "warm", "sweet", "romantic", "major"), "major"),
    **dict.fromkeys(("dark", "sad", "melancholy", "melancholic", "moody", "gloomy",
                     "somber", "sombre", "tense", "eerie", "mysterious", "ominous",
                     "haunting", "tragic", "lonely", "minor"), "minor"),
}
DENSITY_WORDS: dict[str, float] = {
    **dict.fromkeys(("sparse", "minimal", "minimalist", "simple", "spacious", "gentle",
                     "soft", "quiet", "ambient"), 0.8),
    **dict.fromkeys(("busy", "dense", "complex", "intricate", "virtuosic", "wild",
                     "chaotic", "experimental"), 1.25),
}
STYLE_WORDS: dict[str, str] = {
    **dict.fromkeys(("pop", "ballad pop", "k-pop", "c-pop"), "pop"),
    **dict.fromkeys(("chorale", "chorales", "hymn", "bach", "baroque", "four-part"), "gan"),
    **dict.fromkeys(("folk", "jig", "reel", "celtic", "irish", "hornpipe"), "lstm"),
}
TABLES = (("instrument", INSTRUMENTS), ("tempo", TEMPO_WORDS), ("mood", MOOD_WORDS),
          ("density", DENSITY_WORDS), ("style", STYLE_WORDS))
NUMBER_TEMPO = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|qpm)\b|\b(?:bpm|qpm)\s*(\d{2,3})")
WORD = re.compile(r"[a-z][a-z'-]*")
LONGEST = max(len(name.split()) for _, table in TABLES for name in table)


@dataclass(frozen=True)
class PromptPlan:
    """What a prompt asks of the MIDI path; None where it says nothing."""

    text: str
    model: str | None = None
    programs: tuple[int, ...] = ()  # in the order named: melody first, then the rest
    qpm: float | None = None
    mode: str | None = None  # "major" | "minor"
    temperature_scale: float = 1.0
    heard: tuple[tuple[str, str], ...] = ()  # (the words, what they set), in prompt order

    @property
    def instrument(self) -> str | None:
        """The words that named the first instrument ("strings"), for file names."""
        return next((words for words, what in self.heard if what.startswith("program")), None)

    def program(self, tracks: int = 1) -> int | tuple[int, ...] | None:
        """The `program` setting for a model with `tracks` pitched tracks (the first named
        instrument on the first, the second on the others)."""
        if not self.programs:
            return None
        if tracks <= 1 or len(self.programs) == 1:
            return self.programs[0]
        return (self.programs[0],) + (self.programs[1],) * (tracks - 1)

    def describe(self) -> str:
        """One line for a status bar: `strings -> program 48, slow -> 70 qpm, dark -> minor`."""
        return ", ".join(f"{words} -> {what}" for words, what in self.heard) or \
            "no word the MIDI models know"


def read_prompt(text: str) -> PromptPlan:
    """The prompt's settings, from the table above (pure; the same text, the same plan)."""
    lowered = text.lower()
    heard: list[tuple[int, str, str]] = []  # (position, words, what)
    values: dict = {"programs": [], "temperature_scale": 1.0}
    match = NUMBER_TEMPO.search(lowered)
    if match:
        qpm = float(match.group(1) or match.group(2))
        values["qpm"] = qpm
        heard.append((match.start(), match.group(0), f"{qpm:g} qpm"))
    words = [(m.start(), m.group(0)) for m in WORD.finditer(lowered)]
    i = 0
    while i < len(words):
        for n in range(min(LONGEST, len(words) - i), 0, -1):
            phrase = " ".join(w for _, w in words[i:i + n])
            hit = _look_up(phrase, values)
            if hit:
                heard.append((words[i][0], phrase, hit))
                i += n
                break
        else:
            i += 1
    heard.sort()
    return PromptPlan(text=text, model=values.get("model"),
                      programs=tuple(values["programs"]), qpm=values.get("qpm"),
                      mode=values.get("mode"), temperature_scale=values["temperature_scale"],
                      heard=tuple((words, what) for _, words, what in heard))


def _look_up(phrase: str, values: dict) -> str | None:
    """Record what `phrase` sets in `values` and say it, or None when it sets nothing (a word
    the table lacks, or one whose setting an earlier word already made)."""
    if phrase in INSTRUMENTS:
        program = INSTRUMENTS[phrase]
        if len(values["programs"]) >= 2 or program in values["programs"]:
            return None
        values["programs"].append(program)
        return f"program {program}"
    if phrase in TEMPO_WORDS and "qpm" not in values:
        values["qpm"] = float(TEMPO_WORDS[phrase])
        return f"{TEMPO_WORDS[phrase]:g} qpm"
    if phrase in MOOD_WORDS and "mode" not in values:
        values["mode"] = MOOD_WORDS[phrase]
        return values["mode"]
    if phrase in DENSITY_WORDS and values["temperature_scale"] == 1.0:
        values["temperature_scale"] = DENSITY_WORDS[phrase]
        return f"temperature x{DENSITY_WORDS[phrase]:g}"
    if phrase in STYLE_WORDS and "model" not in values:
        values["model"] = STYLE_WORDS[phrase]
        return f"model {values['model']}"
    return None


def table_markdown() -> str:
    """The word table as Markdown (docs/prompts.md is this, so the two cannot drift)."""
    lines = []
    for name, table in TABLES:
        by_value: dict = {}
        for words, value in table.items():
            by_value.setdefault(value, []).append(words)
        lines.append(f"\n### {name}\n\n| words | sets |\n|---|---|")
        for value, names in sorted(by_value.items()):
            lines.append(f"| {', '.join(names)} | {_setting(name, value)} |")
    return "\n".join(lines) + "\n"


def _setting(kind: str, value) -> str:
    if kind == "instrument":
        import pretty_midi

        return f"GM program {value} ({pretty_midi.program_to_instrument_name(value)})"
    if kind == "tempo":
        return f"{value:g} qpm"
    if kind == "density":
        return f"temperature x{value:g}"
    return f"{value} mode" if kind == "mood" else f"model {value}"


def steer(plan: PromptPlan, model: str | None, checkpoint: str | None,
          values: dict) -> tuple[str | None, dict]:
    """The model and the settings `values` (qpm, program, temperature, mode) with the
    prompt's words filled in where they are None: what the user typed wins over the words.
    A style word picks the model only when no model or checkpoint was given."""
    from composer.generators import resolve

    if plan.model and model is None and checkpoint is None:
        model = plan.model
    spec, _ = resolve(model, checkpoint)
    out = dict(values)
    if out.get("qpm") is None and plan.qpm is not None:
        out["qpm"] = plan.qpm
    if out.get("program") is None and plan.programs:
        out["program"] = plan.program(spec.tracks)
    if out.get("mode") is None and plan.mode is not None:
        out["mode"] = plan.mode
    if out.get("temperature") is None and plan.temperature_scale != 1.0 and spec.temperature:
        out["temperature"] = round(spec.temperature * plan.temperature_scale, 3)
    return model, out


def changes(plan: PromptPlan, settings) -> dict:
    """What a prompt typed while playing changes in PlaySettings `settings` (the shell's
    `start <prompt>`, the window's prompt field): the prompt is the newest word on what to
    play, so its words win over earlier settings; what it does not mention stays."""
    model, checkpoint = (None, None) if plan.model else (settings.model, settings.checkpoint)
    model, values = steer(plan, model, checkpoint,
                          dict.fromkeys(("qpm", "program", "temperature", "mode")))
    update = {k: v for k, v in values.items() if v is not None}
    if plan.model:
        update.update(model=model, checkpoint=None)
    return update


def audio_source(text: str, settings) -> tuple[dict, str | None]:
    """MusicGPT for a prompt typed in the shell or the window, when it is installed: the
    settings that switch to it, or none and one line saying why the MIDI path plays alone."""
    from composer.musicgpt import MusicGptError, find_binary

    try:
        find_binary(settings.musicgpt)
    except MusicGptError as exc:
        return {}, f"{exc}; the MIDI path plays, steered by the prompt"
    return {"source": "musicgpt", "prompt": text}, None
