"""MusicVAE-style melody VAEs: bidirectional LSTM encoder, latent z, LSTM decoder.

encoding: NoteSequence <-> 2-bar melody windows (the only module that knows the layout).
network: the Keras model and its training step (KL annealing, free bits, scheduled sampling).
runtime: encode / decode / sample / interpolate in NumPy, without TensorFlow.
"""
