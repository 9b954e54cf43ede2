"""The trained generator through LiteRT: piano rolls without importing TensorFlow."""

from __future__ import annotations

import numpy as np

from models.stderr import quiet_stderr


class GanRuntime:
    def __init__(self, flatbuffer: bytes):
        from ai_edge_litert.interpreter import Interpreter

        with quiet_stderr():  # LiteRT announces its CPU delegate on fd 2 for every interpreter
            self.interpreter = Interpreter(model_content=flatbuffer)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def z_size(self) -> int:
        return int(self.input["shape"][-1])

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """[n, time, pitch, track] note probabilities for [n, z] latents."""
        out = []
        for row in np.atleast_2d(z).astype(np.float32):
            self.interpreter.set_tensor(self.input["index"], row[None])
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self.output["index"])[0].copy())
        return np.stack(out)

    def sample(self, n: int, rng: np.random.Generator, encoding, threshold: float = 0.5
               ) -> np.ndarray:
        """n new phrases as binary rolls, binarized as the encoding's layout asks."""
        z = rng.standard_normal((n, self.z_size)).astype(np.float32)
        return encoding.binarize(self.probabilities(z), threshold)
