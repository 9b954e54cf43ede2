"""The lead model: a melody written over chords, one event per sixteenth (`composer melody`).

chords: the chord vocabulary (Harte labels as POP909 writes them), ids and templates.
encoding: a song's melody and chords <-> one int16 stream of (condition, event) pairs.
network: the Keras LSTM, for training. runtime: the same in NumPy, with the sampling loop.
"""
