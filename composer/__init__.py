"""composer: the application. Engine, render, loop, player, CLI and interfaces live here.

Dependencies point one way: composer may import models, training and scraper; never the reverse.
"""

__version__ = "0.1.0"
