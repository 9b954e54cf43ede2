"""composer: the application. Engine, render, loop, player, CLI and interfaces live here.

Dependencies point one way: composer may import models, training and scraper; never the reverse.

The Python API the player and scripts use:

    import composer
    phrase = composer.generate("lstm", bars=8, seed=1)          # a composer.phrase.Phrase
    walk = composer.interpolate("a.mid", "b.mid", steps=8)     # .phrase, .steps, .melodies

Both import their models on first call, so `import composer` stays instant.
"""

__version__ = "0.1.0"


def generate(model: str = "lstm", **options):
    """`bars` bars of new music from a model (a registry name or a checkpoint folder); see
    composer.generation.generate."""
    from composer.generation import generate as run

    return run(model, **options)


def interpolate(a, b, **options):
    """A melody that walks from song a to song b; see composer.interpolation.interpolate."""
    from composer.interpolation import interpolate as run

    return run(a, b, **options)
