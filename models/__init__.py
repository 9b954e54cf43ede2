"""models: the networks (LSTM, VAE, GAN) and the encodings that turn NoteSequences into tensors.

Imports nothing from composer, training or scraper.
"""
