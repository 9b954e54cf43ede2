"""scraper: crawling the web for MIDI and downloading datasets such as Lakh MIDI.

crawler (the Scrapy spider, its settings and retry back-off), store (check, de-duplicate, name,
write, record), checks (is it MIDI?), archives (zips and tars from strangers), names (safe file
names), manifest (SQLite record of every URL), fileio (atomic writes inside one folder), lakh
(resumable, verified download and extraction of the Lakh MIDI Dataset).

Imports nothing from composer, training or models.
"""
