"""training: corpus ingest, key estimation and transposition, datasets, training loops, metrics.

May import models; never composer or scraper.
"""
