"""What each job request takes: the CLI's options, bounded, as pydantic models (so the
OpenAPI spec at /openapi.json documents them and a bad value is a 422 naming the field)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

FileId = Field(pattern=r"^[0-9a-f]{32}$", description="an id from POST /upload")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    render: bool = Field(True, description="also render a WAV with FluidSynth")


class FuseRequest(Request):
    """`composer interpolate a b`: two uploaded MIDI songs, joined through a VAE."""

    file_ids: list[str] = Field(min_length=2, max_length=2)
    steps: int = Field(8, ge=2, le=16)
    qpm: float | None = Field(None, ge=20, le=400, description="default: a's tempo to b's")
    program: int | None = Field(None, ge=0, le=127, description="the melody's GM program")
    section: str = Field("auto", description="auto, intro or a bar number")
    model: str = Field("vae-2bar", max_length=120,
                       description="a VAE from GET /models: vae-2bar, vae-16bar or the server's")
    melody_only: bool = False

    @field_validator("file_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        from composer.web.files import is_id

        for one in value:
            if not is_id(one):
                raise ValueError(f"{one[:40]!r} is not a file id")
        return value

    @field_validator("section")
    @classmethod
    def _section(cls, value: str) -> str:
        if value not in ("auto", "intro") and not (value.isdigit() and 0 < int(value) < 10000):
            raise ValueError("auto, intro or a bar number from 1")
        return value


class GenerateRequest(Request):
    """`composer generate --model gan|hybrid|pop`."""

    bars: int = Field(8, ge=1, le=64)
    qpm: float = Field(120.0, ge=20, le=400)
    temperature: float | None = Field(None, ge=0, le=2)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    program: int | None = Field(None, ge=0, le=127, description="one program for every track")
    checkpoint: str | None = Field(None, max_length=120,
                                   description="a name from GET /models (default: shipped)")


class MelodyRequest(Request):
    """`composer melody BACKING --mix`: a melody over an uploaded backing (MIDI or audio)."""

    file_id: str = FileId
    bars: int | None = Field(None, ge=2, le=64, description="default: to the backing's end")
    start_bar: int = Field(1, ge=1, le=1000)
    qpm: float | None = Field(None, ge=20, le=400, description="an audio backing's tempo")
    temperature: float | None = Field(None, ge=0, le=2)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    program: int = Field(53, ge=0, le=127)


REQUESTS: dict[str, type[Request]] = {"vae": FuseRequest, "gan": GenerateRequest,
                                      "hybrid": GenerateRequest, "pop": GenerateRequest,
                                      "melody": MelodyRequest}
