"""Whether an imported token is too weak to go on using: how many guesses it would cost an
attacker, by zxcvbn's estimate.

zxcvbn (Dropbox's estimator, the Python port on PyPI) looks for what people actually choose:
dictionary words and common passwords (also reversed or in l33t), names, keyboard rows, sequences,
repetitions and dates, and prices everything else as brute force. A token is strong enough to go
on using when that estimate is at least :data:`MIN_BITS` bits (2**64 guesses), the strength a
password-like value must reach to stand in for a random token of ours (160 random bits).
zxcvbn prices an unrecognised character at 10 guesses, so a random value needs about 20
characters to get near the line and clears it with room to spare from 24 letters or hex digits
(32 decimal digits); a shorter random value may be refused, and can be imported with
``allow_weak``.

zxcvbn refuses values over :data:`CHUNK` characters, and its cost grows faster than the length
(hundreds of milliseconds at that length, seconds at the 512 an imported token may have), so a
longer value is estimated in chunks of that size, and scores as its strongest chunk: guessing the
whole takes at least as many guesses as any part of it.

zxcvbn is imported on the first estimate, so a cold start that imports no token does not pay for
it; the admin function's asset bundles it for the Lambda platform (infra/bundle.py).
"""

from __future__ import annotations

import math

#: Shorter than this, an imported token is weak whatever it holds.
MIN_STRONG_LENGTH = 20
#: The least estimated strength, in bits (log2 of the guesses), of an imported token used as is.
MIN_BITS = 64
#: The longest value zxcvbn estimates in one call (its own ``max_length``).
CHUNK = 72


def estimated_bits(value: str) -> float:
    """log2 of the guesses zxcvbn estimates for ``value``: its strongest chunk's, computed until a
    chunk reaches :data:`MIN_BITS` (a weak value's figure is therefore exact, a strong one's a floor)."""
    from zxcvbn import zxcvbn

    best = 0.0
    for start in range(0, len(value), CHUNK):
        log10_guesses = float(zxcvbn(value[start : start + CHUNK], max_length=CHUNK)["guesses_log10"])
        best = max(best, log10_guesses * math.log2(10))
        if best >= MIN_BITS:
            break
    return best


def weakness(value: str) -> str | None:
    """Why ``value`` is too weak to go on using as a token, or None. The reason names sizes only."""
    if len(value) < MIN_STRONG_LENGTH:
        return f"shorter than {MIN_STRONG_LENGTH} characters"
    bits = estimated_bits(value)
    if bits < MIN_BITS:
        return f"guessable (about {bits:.0f} bits by zxcvbn's estimate, {MIN_BITS} needed)"
    return None
