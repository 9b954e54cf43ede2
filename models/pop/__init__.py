"""The pop model: a small Transformer over REMI tokens of melody, bridge and accompaniment.

encoding: NoteSequence <-> REMI token ids (MidiTok's vocabulary; a light decoder for generation).
network: the Keras model, for training.
runtime: the same network in NumPy with a key/value cache, for generation without TensorFlow.
"""
