"""`mallbridge demo`: the main job on one machine, with scripted orders through every path."""
