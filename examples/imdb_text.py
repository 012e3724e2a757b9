"""A bag-of-embeddings sentiment model on IMDB reviews: sparse gradients.

    python examples/imdb_text.py --epochs 3

Reviews are cleaned (invalid UTF-8 replaced, lower-cased, punctuation and
`<br />` removed) and turned into token ids by a `TextVectorization` layer
adapted on the training text, inside the `tf.data` pipeline. The model is
`Embedding -> GlobalAveragePooling1D -> Dense -> Dense(1)`: the gradient of
the `Embedding` table is a `tf.IndexedSlices` (only the rows of the batch's
tokens), which `zoo_adam` applies as a sparse update. The script checks
that and prints it.

Downloads `imdb_reviews` through TFDS on first use (unless it is prepared
in `--data-dir`); offline, it stops at once with instructions. Saves the
model (`model.keras`, which takes token ids), the vocabulary
(`vocabulary.json`) and the per-epoch history (`history.json`) to `--out`.
"""

import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # for `import _common`, however this is run
    sys.path.insert(0, _HERE)

import _common  # noqa: E402

TRAIN_EXAMPLES = 25_000


def clean(text):
    """Lower-cased text without `<br />` and punctuation; bad UTF-8 fixed.

    Works on any bytes (the random text of `tfds.testing.mock_data`
    included): invalid UTF-8 becomes U+FFFD before lower-casing.
    """
    import tensorflow as tf

    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace"
    )
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, "<br />", " ")
    return tf.strings.regex_replace(text, r"[^\w\s']", " ")


def build_model(vocabulary_size, dim=32):
    """Token ids -> `Embedding` -> average -> `Dense(16)` -> one logit."""
    import keras

    return keras.Sequential(
        [
            keras.Input((None,), dtype="int64"),
            keras.layers.Embedding(vocabulary_size, dim, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="imdb_bag_of_embeddings",
    )


def embedding_gradient(model, x, y):
    """The gradient of the `Embedding` table on one batch (an IndexedSlices)."""
    import tensorflow as tf

    table = model.get_layer("embedding").embeddings
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    return tape.gradient(loss, table.value)


def _main(argv):
    """Parses `argv`, trains and saves; returns 0."""
    parser = _common.parser(
        "imdb_text.py",
        __doc__,
        epochs=3,
        batch_size=64,
        out="runs/examples/imdb_text",
    )
    parser.add_argument(
        "--vocabulary-size", type=int, default=20_000, help="(default: 20000)"
    )
    parser.add_argument(
        "--sequence-length", type=int, default=256, help="(default: 256)"
    )
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = _common.finish_args(parser.parse_args(argv), TRAIN_EXAMPLES)
    if args.smoke:
        args.vocabulary_size = min(args.vocabulary_size, 500)
        args.sequence_length = min(args.sequence_length, 32)
    print(
        "Training a bag-of-embeddings model on imdb_reviews with zoo_adam; "
        "the Embedding layer's gradients are sparse (IndexedSlices)."
    )
    print(_common.downloads_note("imdb_reviews"))

    import keras
    import tensorflow as tf

    import keras_optim_zoo
    from keras_optim_zoo import data

    raw_train = data.load(
        "imdb_reviews", "train", args.data_dir, as_supervised=True
    )
    raw_test = data.load(
        "imdb_reviews", "test", args.data_dir, as_supervised=True
    )
    vectorize = keras.layers.TextVectorization(
        max_tokens=args.vocabulary_size,
        standardize=None,  # `clean` runs first
        output_sequence_length=args.sequence_length,
    )
    adapt_batches = 8 if args.smoke else 100
    vectorize.adapt(
        raw_train.batch(256).take(adapt_batches).map(lambda t, y: clean(t))
    )
    vocabulary = vectorize.get_vocabulary()
    print(f"vocabulary: {len(vocabulary)} tokens")

    def to_ids(text, label):
        return vectorize(clean(text)), label

    train = (
        raw_train.shuffle(25_000, seed=args.seed)
        .repeat()
        .batch(args.batch_size)
        .map(to_ids, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = raw_test.batch(args.batch_size)
    if args.validation_steps:
        test = test.take(args.validation_steps)
    test = test.map(to_ids).prefetch(tf.data.AUTOTUNE)

    keras.utils.set_random_seed(args.seed)
    model = build_model(len(vocabulary))
    model.compile(
        optimizer=keras_optim_zoo.get(
            "zoo_adam", learning_rate=args.learning_rate
        ),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    x, y = next(iter(train))
    gradient = embedding_gradient(model, x, y)
    sparse = isinstance(gradient, tf.IndexedSlices)
    rows = (
        int(tf.size(tf.unique(gradient.indices)[0]))
        if sparse
        else len(vocabulary)
    )
    print(
        f"Embedding gradient: {type(gradient).__name__} "
        f"({'sparse' if sparse else 'dense'}), touching {rows} of "
        f"{len(vocabulary)} rows of the table"
    )
    history = model.fit(
        train,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=test,
        shuffle=False,  # tf.data shuffles
        verbose=0 if args.quiet else 1,
    )
    print(f"test accuracy {history.history['val_binary_accuracy'][-1]:.4f}")
    _common.save(
        model,
        history,
        args,
        extra={"embedding_gradient": type(gradient).__name__},
    )
    with open(os.path.join(args.out, "vocabulary.json"), "w") as f:
        json.dump(vocabulary, f)
    return 0


main = _common.entry(_main)


if __name__ == "__main__":
    sys.exit(main())
