"""scraper: crawling the web for MIDI and downloading datasets such as Lakh MIDI.

Imports nothing from composer, training or models.
"""
