"""The shared test of the rising kinds (overfitting, loss_rising, loss_up_acc_up): did a curve
climb after its best point, by more than its noise, and stay up?"""

from __future__ import annotations

from lossdoctor.analysis import relative, rise
from lossdoctor.curve import Curve

#: The rise must exceed this many bin-noise σ …
MIN_SIGMA = 3.0
#: … be at least this fraction worse than the best level …
MIN_RELATIVE = 0.05
#: … and this fraction of the points after the best must sit above best + 2σ.
MIN_ABOVE = 0.6


def persistent_rise(c: Curve) -> bool:
    """True when `c` rose after its smoothed best and stayed up to the end."""
    r = rise(c)
    if r.post < 2 or r.z < MIN_SIGMA or r.above < MIN_ABOVE:
        return False
    sh = r.shape
    if relative(c, sh.low, sh.end) < MIN_RELATIVE:
        return False
    last = c.bins[2][-1]
    return bool(last > sh.low + 2 * c.bin_noise)
