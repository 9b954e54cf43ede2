"""The shared loop detector: the best seamless loop in any audio, and how seamless it is.

    find_loop(clip, bars=None, max_bars=8, min_bars=1) -> Loop
    seam_scores(period, sample_rate) -> SeamScores       any loop period, however it was made
    estimate_grid(audio, sample_rate) -> Grid            beats and bars of audio without a score
    read_audio(path) -> Clip, write_loop(path, loop), read_loop_points(path) -> LoopPoints
"""

from composer.loop.detect import find_loop
from composer.loop.errors import LoopError
from composer.loop.files import LoopPoints, read_audio, read_loop_points, write_loop
from composer.loop.grid import estimate_grid
from composer.loop.seam import seam_scores

__all__ = ["LoopError", "LoopPoints", "estimate_grid", "find_loop", "read_audio",
           "read_loop_points", "seam_scores", "write_loop"]
