"""Array-level entry points of the Python API (no files)."""

from __future__ import annotations

from engine.io.texts import as_large_string_array, pack
from engine.neardup.params import DedupParams
from kernels.backend import resolve_backend
from kernels.minhash import signatures


def minhash(
    texts,
    *,
    num_perm: int = 128,
    ngram: int = 5,
    shingle: str = "word",
    seed: int = 42,
    backend: str = "auto",
):
    """MinHash signatures of documents.

    Args:
        texts: list of str, pyarrow string array/column, or pandas Series.
        num_perm: signature length K. ngram: shingle width in words or characters.
        shingle: "word" or "char". seed: permutation seed.
        backend: "auto", "cpu" or "cuda".

    Returns:
        uint32 array (n_docs, num_perm): NumPy on cpu, CuPy on a GPU. Documents
        without any shingle have every entry 0xFFFFFFFF.

    Example:
        >>> import engine
        >>> sig = engine.minhash(["the cat sat on the mat", "the cat sat on a mat"],
        ...                      num_perm=64, ngram=2, backend="cpu")
        >>> sig.shape, sig.dtype.name
        ((2, 64), 'uint32')
    """
    DedupParams(shingle=shingle, ngram=ngram, num_perm=num_perm, seed=seed)  # validates
    data, offsets = pack(as_large_string_array(texts))
    return signatures(
        data,
        offsets,
        num_perm=num_perm,
        ngram=ngram,
        shingle=shingle,
        seed=seed,
        backend=resolve_backend(backend),
    )
