"""MuseGAN-style multi-track piano-roll GAN (WGAN-GP).

encoding: NoteSequence <-> [time, pitch, track] phrase piano rolls (the only layout code).
network: generator and critic in Keras, with the WGAN-GP training step.
runtime: the generator through LiteRT, without TensorFlow.
"""
