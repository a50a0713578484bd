"""The line probe: throughput, latency, jitter and loss of the room's Internet line.

``estimate`` holds the pure analysis (samples in, estimate out);
``multistream`` and ``speedtest_cli`` are the two ways of measuring throughput.
"""
