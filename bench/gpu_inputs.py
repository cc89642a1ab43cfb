"""Generated inputs of the GPU check: random word text, document offsets, samples."""

from __future__ import annotations


def make_vocab(seed: int = 7):
    """Random words (ASCII letters, some UTF-8 letters, no JSON specials), each + separator."""
    import numpy as np

    rng = np.random.RandomState(seed)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    extra = ["é", "ß", "ø", "ж", "λ", "日", "本", "ü", "ç", "Å"]
    seps = [" "] * 12 + [", ", ". ", "\n", "; ", " - "]
    words = []
    for _ in range(30000):
        length = int(rng.randint(1, 11))
        chars = [
            extra[rng.randint(len(extra))] if rng.rand() < 0.03 else letters[rng.randint(26)]
            for _ in range(length)
        ]
        if rng.rand() < 0.1:
            chars[0] = chars[0].upper()
        words.append("".join(chars) + seps[rng.randint(len(seps))])
    encoded = [w.encode() for w in words]
    lens = np.array([len(w) for w in encoded], dtype=np.int64)
    starts = np.zeros(len(encoded), dtype=np.int64)
    starts[1:] = np.cumsum(lens)[:-1]
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), starts, lens


_VOCAB = None


def random_text(xp, n_bytes: int, seed: int):
    """``n_bytes`` of random word text as a uint8 array of ``xp`` (generated in chunks)."""
    import numpy as np

    global _VOCAB
    if _VOCAB is None:
        _VOCAB = make_vocab()
    vocab, vstart, vlen = (xp.asarray(a) for a in _VOCAB)
    n_words_total = vlen.shape[0]
    out = xp.empty(n_bytes, dtype=np.uint8)
    rs = xp.random.RandomState(seed)
    chunk = 128 * 10**6
    pos = 0
    while pos < n_bytes:
        want = min(chunk, n_bytes - pos)
        n_words = int(want / 5.0) + 64
        u = rs.random_sample(n_words)
        idx = xp.minimum((u * u * n_words_total).astype(np.int64), n_words_total - 1)
        lens = vlen[idx]
        ends = xp.cumsum(lens)
        while int(ends[-1]) < want:  # rare: draw more words
            n_words *= 2
            u = rs.random_sample(n_words)
            idx = xp.minimum((u * u * n_words_total).astype(np.int64), n_words_total - 1)
            lens = vlen[idx]
            ends = xp.cumsum(lens)
        p = xp.arange(want, dtype=np.int64)
        w = xp.searchsorted(ends, p, side="right")
        starts_out = ends - lens
        out[pos : pos + want] = vocab[vstart[idx[w]] + (p - starts_out[w])]
        del p, w, u, idx, lens, ends, starts_out
        pos += want
    return out


def random_offsets(n_bytes: int, seed: int, lo: int = 300, hi: int = 20000):
    """int64 document offsets (n_docs + 1,) covering ``n_bytes``, lengths in [lo, hi)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mean = (lo + hi) / 2
    n = max(2, int(n_bytes / mean * 1.2) + 2)
    lens = rng.integers(lo, hi, size=n)
    ends = np.cumsum(lens)
    k = int(np.searchsorted(ends, n_bytes))
    ends = np.concatenate([ends[:k], [n_bytes]]).astype(np.int64)
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    offsets[1:] = ends
    return offsets


def sample_docs(offsets, n_sample: int, seed: int):
    """Sorted indices of up to ``n_sample`` documents."""
    import numpy as np

    n_docs = len(offsets) - 1
    if n_sample >= n_docs:
        return np.arange(n_docs)
    return np.sort(np.random.default_rng(seed).choice(n_docs, size=n_sample, replace=False))


def doc_positions(offsets, docs):
    """Concatenated byte positions of the given documents, and their sub-offsets."""
    import numpy as np

    lens = offsets[docs + 1] - offsets[docs]
    sub = np.zeros(len(docs) + 1, dtype=np.int64)
    sub[1:] = np.cumsum(lens)
    pos = np.repeat(offsets[docs] - sub[:-1], lens) + np.arange(sub[-1], dtype=np.int64)
    return pos, sub


def long_tail_batch(xp, long_bytes: int, n_short: int, short_bytes: int, seed: int):
    """One ``long_bytes`` document among ``n_short`` documents of ``short_bytes`` each.

    The long document sits in the middle of the batch (so neither the first nor the last
    thread block owns it). Returns (data: uint8 array of ``xp``, offsets: int64 NumPy
    array (n_short + 2,), byte offsets of each document).
    """
    import numpy as np

    lengths = np.full(n_short + 1, short_bytes, dtype=np.int64)
    lengths[n_short // 2] = long_bytes
    offsets = np.zeros(n_short + 2, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    return random_text(xp, int(offsets[-1]), seed), offsets


def duplicate_heavy_batch(xp, n_bytes: int, n_distinct: int, doc_bytes: int, seed: int):
    """About ``n_bytes`` of exact copies of ``n_distinct`` documents of ``doc_bytes`` each.

    Copies are drawn at random (every distinct document appears at least once). Returns
    (data: uint8 NumPy array, offsets: int64 NumPy array (n_docs + 1,), which: int64
    (n_docs,), the distinct document each one copies). The data stays on the host: the
    caller moves it.
    """
    import numpy as np

    base = np.asarray(_to_host(random_text(xp, n_distinct * doc_bytes, seed)))
    n_docs = max(n_distinct, n_bytes // doc_bytes)
    rng = np.random.default_rng(seed)
    which = np.concatenate(
        [np.arange(n_distinct), rng.integers(0, n_distinct, n_docs - n_distinct)]
    )
    rng.shuffle(which)
    starts = which * doc_bytes
    positions = (starts[:, None] + np.arange(doc_bytes, dtype=np.int64)[None, :]).reshape(-1)
    offsets = np.arange(n_docs + 1, dtype=np.int64) * doc_bytes
    return np.ascontiguousarray(base[positions]), offsets, which.astype(np.int64)


def _to_host(array):
    get = getattr(array, "get", None)
    return get() if get is not None else array
