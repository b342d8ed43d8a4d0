"""One evaluation for character-level language models, so chapters 04 and 05 compare fairly."""

from __future__ import annotations

import numpy as np


def char_windows(ids, context_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Cut a sequence of ids into non-overlapping (input, target) windows.

    Window ``k`` feeds ``ids[k*T : (k+1)*T]`` and predicts ``ids[k*T+1 : (k+1)*T+1]``, with
    ``T = context_length``, so every character after the first is predicted exactly once.

    Returns:
        ``inputs, targets`` of shape ``[num_full_windows, T]`` and, when characters are left
        over, one shorter ``tail_inputs, tail_targets`` of shape ``[1, remainder]`` (else ``None``).
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size < 2:
        raise ValueError(f"ids must be a 1-D sequence of at least 2 character ids, got shape {list(ids.shape)}.")
    if context_length < 1:
        raise ValueError(f"context_length must be >= 1, got {context_length}.")
    num_predictions = ids.size - 1
    num_full = num_predictions // context_length
    used = num_full * context_length
    inputs = ids[:used].reshape(num_full, context_length)
    targets = ids[1:used + 1].reshape(num_full, context_length)
    if used == num_predictions:
        return inputs, targets, None, None
    return inputs, targets, ids[used:-1][None, :], ids[used + 1:][None, :]


def evaluate_char_model(model, ids, context_length: int, batch_size: int = 256) -> float:
    """Mean cross-entropy, in nats per character, of a character model over a whole split.

    Args:
        model: a callable (a Keras model) mapping ids ``[batch, time]`` to logits
            ``[batch, time, vocab_size]``, each position predicting the next character from
            the characters before it in its window.
        ids: the split to evaluate, a 1-D array of character ids (such as ``CharData.val_ids``).
        context_length: window length ``T``; the text is cut into non-overlapping windows
            (:func:`char_windows`), and the model starts each window with no memory.
        batch_size: windows per forward pass; changes speed, not the result.

    Returns:
        The mean over every predicted character of ``-log p(next character)``; ``log(65)``, about
        4.17, is the loss of a uniform guess over tiny Shakespeare's 65 characters.
    """
    import tensorflow as tf

    inputs, targets, tail_inputs, tail_targets = char_windows(ids, context_length)
    total, count = 0.0, 0
    pieces = [(inputs[i:i + batch_size], targets[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]
    if tail_inputs is not None:
        pieces.append((tail_inputs, tail_targets))
    for batch_inputs, batch_targets in pieces:
        logits = model(tf.constant(batch_inputs), training=False)
        if tuple(logits.shape[:2]) != batch_targets.shape:
            raise ValueError(
                f"The model returned logits of shape {list(logits.shape)} for inputs of shape "
                f"{list(batch_inputs.shape)}; it must return [batch, time, vocab_size] (return_sequences=True)."
            )
        losses = tf.keras.losses.sparse_categorical_crossentropy(batch_targets, logits, from_logits=True)
        total += float(tf.reduce_sum(tf.cast(losses, tf.float64)))
        count += batch_targets.size
    return total / count
