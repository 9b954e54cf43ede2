"""Polyphonic performance LSTM: a language model over note-seq's performance events.

encoding: NoteSequence <-> event ids (the only module that knows the layout).
network: the Keras model, for training.
runtime: the same network in NumPy, for generation without importing TensorFlow.
"""
