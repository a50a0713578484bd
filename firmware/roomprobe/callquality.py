"""Video/voice call quality as a MOS score, from latency, jitter and loss.

The simplified ITU-T G.107 E-model in the form widely used by network
monitors (Cole & Rosenbluth, 2001): jitter counts double toward an effective
one-way latency, a fixed 10 ms stands for codec delay, and every percent of
loss costs 2.5 R points. R is then mapped to MOS by G.107 Annex B. Pure
function, so the same figure comes from live, replayed or simulated metrics.
"""

from __future__ import annotations


def r_factor(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    effective = rtt_ms / 2 + 2 * jitter_ms + 10.0
    # Delay costs little up to 160 ms, then a point per 10 ms.
    delay_cost = effective / 40 if effective < 160 else (effective - 120) / 10
    return 93.2 - delay_cost - 2.5 * loss_pct


def mos(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """Mean opinion score from 1 (bad) to about 4.4 (best a narrowband call reaches)."""
    r = r_factor(rtt_ms, jitter_ms, loss_pct)
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    # The cubic dips just under 1 for R below about 6.5; MOS is defined from 1.
    return max(1.0, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))
