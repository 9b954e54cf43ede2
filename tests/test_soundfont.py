"""Soundfont lookup order: --soundfont > $COMPOSER_SOUNDFONT > soundfonts/ > system GM."""


import factories as f
import pytest

from composer.soundfont import ENV_VAR, SoundfontError, find_soundfont


@pytest.fixture()
def places(tmp_path):
    def sf(name):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        return path

    return {"flag": sf("flag.sf2"), "env": sf("env.sf3"), "project": tmp_path / "project",
            "project_sf": sf("project/b.sf2"), "project_sf_a": sf("project/a.sf2"),
            "system": sf("system/FluidR3_GM.sf2"), "missing": tmp_path / "none"}


def _find(places, flag=None, env=None, project=True, system=True):
    return find_soundfont(
        flag, environ={ENV_VAR: str(env)} if env else {},
        project_dir=places["project"] if project else places["missing"],
        system=(places["missing"] / "x.sf2", places["system"]) if system else ())


def test_order(places):
    assert _find(places, flag=places["flag"], env=places["env"]).origin == "flag"
    assert _find(places, env=places["env"]).path == places["env"]
    found = _find(places)
    assert found.origin == "project" and found.path == places["project_sf_a"]  # sorted, first
    found = _find(places, project=False)
    assert found.origin == "system" and found.path == places["system"]


def test_explicit_choice_that_is_missing_is_an_error(places):
    with pytest.raises(SoundfontError, match="nope.sf2"):
        _find(places, flag=places["missing"] / "nope.sf2")
    with pytest.raises(SoundfontError, match="COMPOSER_SOUNDFONT"):
        _find(places, env=places["missing"] / "gone.sf2")
    with pytest.raises(SoundfontError, match="not a soundfont"):
        bad = places["missing"].parent / "notes.txt"
        bad.write_text("x")
        _find(places, flag=bad)


def test_nothing_anywhere(places):
    with pytest.raises(SoundfontError, match="fluid-soundfont-gm"):
        _find(places, project=False, system=False)


def test_system_gm_soundfont_is_found():
    """make test installs Debian's fluid-soundfont-gm; the default lookup must find it."""
    found = find_soundfont(environ={})
    assert found.path.is_file() and found.path.stat().st_size > 1_000_000
    assert found.origin in ("project", "system")


def test_cli(places):
    result = f.run_cli("soundfont", "--soundfont", places["flag"], check=True)
    assert str(places["flag"]) in result.stdout and "flag" in result.stdout
    bad = f.run_cli("soundfont", "--soundfont", places["missing"] / "x.sf2")
    assert bad.returncode == 1 and "x.sf2" in bad.stderr
