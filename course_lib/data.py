"""Data for the course: checksummed loaders for the files in ``data/`` and small synthetic sets.

Nothing here touches the network. Every loader verifies the SHA-256 of the bytes it reads and
raises an error that names the file and the fix when something is missing or damaged.

Where the data folder is found, in order:

1. the environment variable ``COURSE_DATA_DIR``, if set (a relative path is taken from the
   current folder);
2. a ``data/`` folder holding any of the course's data files in the current directory or any parent
   (so notebooks find it from ``notebooks/``, ``notebooks/solutions/``, the working copy made
   by ``make lab`` and the runner's build folder);
3. the ``data/`` folder beside the installed package (an editable install).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR_VARIABLE = "COURSE_DATA_DIR"
RESTORE_HINT = "restore it with `git checkout data/` from the course repository"

# SHA-256 of the decompressed bytes for .gz files, of the file itself otherwise.
CHECKSUMS: dict[str, str] = {
    "fashion-mnist/train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "fashion-mnist/t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "tinyshakespeare.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "co2_mm_mlo.csv": "cf0db5d9aa86ce62b8fc35a70cf13bfa4b3d303ea389e5f4f97ee80cd37df954",
}

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


# --------------------------------------------------------------------------------------------
# Finding and reading files
# --------------------------------------------------------------------------------------------

def _looks_like_data_dir(path: Path) -> bool:
    """A folder that holds at least one of the course's data files (or folders), so that a
    single missing file is reported by its own name, not as a missing folder."""
    return path.is_dir() and any((path / name.split("/")[0]).exists() for name in CHECKSUMS)


def _whole_number(value, name: str, minimum: int | None = None) -> int:
    """``value`` as an int, or a TypeError that names the argument (floats and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number (an int), got {value!r} ({type(value).__name__}).")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _real_number(value, name: str) -> float:
    """``value`` as a float, or a TypeError that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    return float(value)


def data_dir() -> Path:
    """Return the folder that holds the course's data files.

    Raises:
        FileNotFoundError: if ``COURSE_DATA_DIR`` names a missing folder, or no ``data/``
            folder is found; the message says how to fix it.
    """
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override:
        path = Path(os.path.abspath(Path(override).expanduser()))
        where = "" if Path(override).expanduser().is_absolute() else f" (from {Path.cwd()}: {path})"
        if not path.is_dir():
            raise FileNotFoundError(
                f"{DATA_DIR_VARIABLE}={override!r}{where} is not a folder. Point it at the course's "
                f"data/ folder (an absolute path), or unset it to let the course find data/ by itself."
            )
        if not _looks_like_data_dir(path):
            raise FileNotFoundError(
                f"{DATA_DIR_VARIABLE}={override!r}{where} holds none of the course's data files "
                f"({', '.join(sorted({n.split('/')[0] for n in CHECKSUMS}))}). Point it at the course's "
                f"data/ folder, or unset it to let the course find data/ by itself."
            )
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if _looks_like_data_dir(folder / "data"):
            return folder / "data"
    beside_package = Path(__file__).resolve().parent.parent / "data"
    if _looks_like_data_dir(beside_package):
        return beside_package
    raise FileNotFoundError(
        f"Could not find the course's data/ folder from {here}. Run the notebook from inside "
        f"the course repository (if its data/ folder is empty or gone, restore it with "
        f"`git checkout data/`), or set {DATA_DIR_VARIABLE} to the path of its data/ folder."
    )


def read_verified(name: str, directory: Path | None = None) -> bytes:
    """Read a data file by its name in :data:`CHECKSUMS` and verify its SHA-256.

    ``.gz`` files are decompressed and the checksum is taken over the decompressed bytes
    (gzip headers differ between mirrors of the same data).

    Returns:
        The (decompressed) bytes of the file.

    Raises:
        ValueError: unknown name, or a file that is not valid gzip or fails its checksum.
        FileNotFoundError: the file is missing, or a folder on its path is a file.
        PermissionError: the file cannot be read.
    """
    if name not in CHECKSUMS:
        raise ValueError(f"Unknown data file {name!r}; known files: {', '.join(sorted(CHECKSUMS))}.")
    folder = directory or data_dir()
    path = folder / name
    via = (f" ({DATA_DIR_VARIABLE} points to {folder}; unset it or point it at the course's data/ folder)"
           if os.environ.get(DATA_DIR_VARIABLE) and directory is None else "")
    if not path.is_file():
        for parent in reversed(path.relative_to(folder).parents[:-1]):
            if (folder / parent).exists() and not (folder / parent).is_dir():
                raise FileNotFoundError(f"{folder / parent} is a file, not a folder: move it away and "
                                        f"{RESTORE_HINT}{via}.")
        problem = "is a folder, not a file" if path.is_dir() else "is missing"
        raise FileNotFoundError(f"Data file {path} {problem}: {RESTORE_HINT}{via}.")
    try:
        raw = path.read_bytes()
    except PermissionError as error:
        raise PermissionError(
            f"Cannot read data file {path} ({error.strerror}): give yourself read permission "
            f"(`chmod u+r {path}`), or {RESTORE_HINT}."
        ) from None
    except OSError as error:
        raise FileNotFoundError(f"Cannot read data file {path} ({error.strerror or error}): {RESTORE_HINT}.") from None
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"Data file {path} is not a valid gzip file ({error}): {RESTORE_HINT}.") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CHECKSUMS[name]:
        raise ValueError(
            f"Data file {path} is corrupted: its SHA-256 is {digest}, expected {CHECKSUMS[name]}. "
            f"{RESTORE_HINT[0].upper()}{RESTORE_HINT[1:]}."
        )
    return raw


def parse_idx(raw: bytes, expected_shape: tuple[int, ...], name: str = "IDX data") -> np.ndarray:
    """Parse an unsigned-byte IDX array (the MNIST file format) and check its shape.

    Raises:
        ValueError: a bad magic number, a truncated payload or an unexpected shape.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{name} is not an unsigned-byte IDX file (bad magic number): {RESTORE_HINT}.")
    num_dims = raw[3]
    header_end = 4 + 4 * num_dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(num_dims))
    if shape != tuple(expected_shape):
        raise ValueError(f"{name} has shape {shape}, expected {tuple(expected_shape)}: {RESTORE_HINT}.")
    payload = np.frombuffer(raw, dtype=np.uint8, offset=header_end)
    if payload.size != int(np.prod(shape)):
        raise ValueError(f"{name} holds {payload.size} values, expected {int(np.prod(shape))}: {RESTORE_HINT}.")
    return payload.reshape(shape).copy()


# --------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageData:
    """An image classification set split three ways.

    ``x_*`` are ``uint8`` arrays ``[num_images, 28, 28]`` with pixel values 0..255;
    ``y_*`` are ``int64`` arrays ``[num_images]`` of class indices 0..9;
    ``class_names[i]`` names class ``i``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def load_fashion_mnist(val_size: int = 5000, seed: int = 0) -> ImageData:
    """Load Fashion-MNIST from ``data/fashion-mnist`` with a reproducible validation split.

    Args:
        val_size: how many of the 60,000 training images to hold out for validation (0..59,999).
        seed: seeds the random choice of validation images; the same seed gives the same split.

    Returns:
        :class:`ImageData` with 60,000 - ``val_size`` training, ``val_size`` validation and
        10,000 test images.
    """
    val_size = _whole_number(val_size, "val_size")
    _whole_number(seed, "seed", minimum=0)
    if not 0 <= val_size < 60_000:
        raise ValueError(f"val_size must be between 0 and 59,999, got {val_size}.")
    folder = data_dir()
    arrays = {}
    for split, count in (("train", 60_000), ("t10k", 10_000)):
        for kind, shape in (("images-idx3", (count, 28, 28)), ("labels-idx1", (count,))):
            name = f"fashion-mnist/{split}-{kind}-ubyte.gz"
            arrays[split, kind] = parse_idx(read_verified(name, folder), shape, str(folder / name))
    x_all, y_all = arrays["train", "images-idx3"], arrays["train", "labels-idx1"].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x_all))
    val_index, train_index = np.sort(order[:val_size]), np.sort(order[val_size:])
    return ImageData(
        x_train=x_all[train_index], y_train=y_all[train_index],
        x_val=x_all[val_index], y_val=y_all[val_index],
        x_test=arrays["t10k", "images-idx3"], y_test=arrays["t10k", "labels-idx1"].astype(np.int64),
        class_names=FASHION_MNIST_CLASSES,
    )


# --------------------------------------------------------------------------------------------
# Mauna Loa CO2
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeriesData:
    """A monthly time series split by position, in time order.

    ``time_*`` are ``float64`` decimal years (1958.2027 is March 1958); ``ppm_*`` are
    ``float64`` monthly mean CO2 mole fractions in parts per million. The full series is in
    ``time`` and ``ppm``; the splits are consecutive pieces of it.
    """

    time: np.ndarray
    ppm: np.ndarray
    time_train: np.ndarray
    ppm_train: np.ndarray
    time_val: np.ndarray
    ppm_val: np.ndarray
    time_test: np.ndarray
    ppm_test: np.ndarray


def split_by_position(length: int, fractions: tuple[float, ...]) -> list[slice]:
    """Cut ``range(length)`` into consecutive slices with the given fractions (summing to 1).
    A tiny fraction can round to an empty slice; callers check the sizes they need."""
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}.")
    bounds = np.round(np.cumsum((0.0, *fractions)) * length).astype(int)
    return [slice(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]


def load_co2(train_fraction: float = 0.7, val_fraction: float = 0.15) -> SeriesData:
    """Load the monthly Mauna Loa CO2 record (March 1958 to February 2024, 792 months).

    The first ``train_fraction`` of the months is the training split, the next ``val_fraction``
    the validation split and the rest the test split (defaults 70/15/15: test is roughly
    2014 to 2024). No seed: the split is by position. ``val_fraction=0`` asks for no validation
    split; otherwise every split must hold at least one month.

    Raises:
        ValueError: fractions out of range, or a split that would hold no month.
    """
    train_fraction = _real_number(train_fraction, "train_fraction")
    val_fraction = _real_number(val_fraction, "val_fraction")
    if not (0 < train_fraction < 1 and 0 <= val_fraction < 1 and train_fraction + val_fraction < 1):
        raise ValueError(
            f"train_fraction and val_fraction must be in (0, 1) and leave room for a test split, "
            f"got {train_fraction} and {val_fraction}."
        )
    folder = data_dir()
    text = read_verified("co2_mm_mlo.csv", folder).decode("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    time = np.array([float(row["decimal date"]) for row in rows], dtype=np.float64)
    ppm = np.array([float(row["average"]) for row in rows], dtype=np.float64)
    if time.shape != (792,) or np.any(ppm <= 0):
        raise ValueError(f"{folder / 'co2_mm_mlo.csv'} does not hold 792 valid months: {RESTORE_HINT}.")
    train, val, test = split_by_position(len(time), (train_fraction, val_fraction, 1 - train_fraction - val_fraction))
    sizes = {"training": train.stop - train.start, "validation": val.stop - val.start, "test": test.stop - test.start}
    for split, size in sizes.items():
        if size == 0 and not (split == "validation" and val_fraction == 0):
            raise ValueError(
                f"train_fraction={train_fraction} and val_fraction={val_fraction} leave the {split} split "
                f"with 0 months (of {len(time)}: {', '.join(f'{k} {v}' for k, v in sizes.items())}). "
                f"Choose fractions that give each split at least one month, such as 0.7 and 0.15."
            )
    return SeriesData(
        time=time, ppm=ppm,
        time_train=time[train], ppm_train=ppm[train],
        time_val=time[val], ppm_val=ppm[val],
        time_test=time[test], ppm_test=ppm[test],
    )


# --------------------------------------------------------------------------------------------
# Tiny Shakespeare
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CharData:
    """A text encoded as character ids, split by position.

    ``vocabulary`` is the sorted string of distinct characters; character ``vocabulary[i]`` has
    id ``i``. ``train_ids`` and ``val_ids`` are ``int32`` arrays of ids in 0..len(vocabulary)-1.
    """

    text: str
    vocabulary: str
    train_ids: np.ndarray
    val_ids: np.ndarray

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """Map a string to an ``int32`` array of ids; unknown characters are an error."""
        lookup = {char: index for index, char in enumerate(self.vocabulary)}
        unknown = sorted(set(text) - lookup.keys())
        if unknown:
            raise ValueError(f"Characters {unknown} are not in the vocabulary of this text.")
        return np.array([lookup[char] for char in text], dtype=np.int32)

    def decode(self, ids) -> str:
        """Map a sequence of ids back to a string."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids must lie in 0..{self.vocab_size - 1}, got {ids.min()}..{ids.max()}.")
        return "".join(self.vocabulary[i] for i in ids.ravel())


def load_shakespeare(train_fraction: float = 0.9) -> CharData:
    """Load tiny Shakespeare (1,115,394 characters, 65 distinct) as character ids.

    The first ``train_fraction`` of the text (default 90%) is for training, the rest for
    validation, split by position. Chapters 04 and 05 use the same split.

    Raises:
        ValueError: ``train_fraction`` out of (0, 1), or so close to 0 or 1 that a split is empty.
    """
    train_fraction = _real_number(train_fraction, "train_fraction")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}.")
    text = read_verified("tinyshakespeare.txt").decode("utf-8")
    vocabulary = "".join(sorted(set(text)))
    lookup = np.zeros(max(map(ord, vocabulary)) + 1, dtype=np.int32)
    lookup[[ord(c) for c in vocabulary]] = np.arange(len(vocabulary), dtype=np.int32)
    ids = lookup[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]
    cut = int(round(train_fraction * len(ids)))
    for split, size in (("training", cut), ("validation", len(ids) - cut)):
        if size == 0:
            raise ValueError(
                f"train_fraction={train_fraction} leaves the {split} split with 0 characters (of {len(ids)}: "
                f"training {cut}, validation {len(ids) - cut}). Choose a fraction such as 0.9."
            )
    return CharData(text=text, vocabulary=vocabulary, train_ids=ids[:cut], val_ids=ids[cut:])


# --------------------------------------------------------------------------------------------
# Small synthetic sets
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PointData:
    """Labelled points in the plane: ``x`` is ``float64`` ``[num_points, 2]``, ``y`` is ``int64``
    ``[num_points]`` of class indices."""

    x: np.ndarray
    y: np.ndarray


def make_blobs(num_per_class: int = 50, separation: float = 3.0, spread: float = 0.6, margin: float = 0.2,
               seed: int = 0) -> PointData:
    """Two Gaussian blobs, class 0 around ``(-s/2, -s/2)`` and class 1 around ``(s/2, s/2)``.

    Points closer than ``margin`` to the line ``x1 + x2 = 0`` (or on its wrong side) are drawn
    again, so the classes are always linearly separable with at least that margin: the
    condition under which the perceptron learning rule provably converges. ``margin=None``
    keeps the raw Gaussian draw, which may overlap.
    """
    _whole_number(num_per_class, "num_per_class")
    _whole_number(seed, "seed", minimum=0)
    if num_per_class < 1 or spread <= 0:
        raise ValueError(f"num_per_class must be >= 1 and spread > 0, got {num_per_class} and {spread}.")
    if margin is not None and not 0 <= margin < separation / np.sqrt(2):
        raise ValueError(f"margin must be in [0, separation / sqrt(2)), got {margin}.")
    rng = np.random.default_rng(seed)
    centres = np.array([[-separation / 2, -separation / 2], [separation / 2, separation / 2]])
    groups = []
    for label, centre in enumerate(centres):
        points = centre + spread * rng.standard_normal((num_per_class, 2))
        side = 1 if label == 1 else -1
        while margin is not None and np.any(bad := side * points.sum(axis=1) / np.sqrt(2) < margin):
            points[bad] = centre + spread * rng.standard_normal((int(bad.sum()), 2))
        groups.append(points)
    y = np.repeat(np.arange(2, dtype=np.int64), num_per_class)
    return PointData(x=np.concatenate(groups), y=y)


LOGIC_GATES = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1), "nand": (1, 1, 1, 0), "xor": (0, 1, 1, 0)}


def make_logic_gate(name: str) -> PointData:
    """The four input pairs (0,0), (0,1), (1,0), (1,1) and the gate's outputs.

    ``name`` is one of ``"and"``, ``"or"``, ``"nand"``, ``"xor"``.
    """
    key = name.lower()
    if key not in LOGIC_GATES:
        raise ValueError(f"Unknown logic gate {name!r}; choose one of {', '.join(LOGIC_GATES)}.")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return PointData(x=x, y=np.array(LOGIC_GATES[key], dtype=np.int64))


def make_xor(num_points: int = 200, noise: float = 0.1, seed: int = 0) -> PointData:
    """Noisy XOR: points near the four corners of the unit square, labelled by XOR of the corner."""
    _whole_number(num_points, "num_points")
    _whole_number(seed, "seed", minimum=0)
    if num_points < 4 or noise < 0:
        raise ValueError(f"num_points must be >= 4 and noise >= 0, got {num_points} and {noise}.")
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(num_points, 2))
    x = corners + noise * rng.standard_normal((num_points, 2))
    return PointData(x=x.astype(np.float64), y=(corners[:, 0] ^ corners[:, 1]).astype(np.int64))


def make_spirals(num_per_class: int = 100, num_classes: int = 2, noise: float = 0.2, seed: int = 0) -> PointData:
    """Interleaved spirals, one arm per class, radius 0..1 over about one and a half turns."""
    for argument, value in (("num_per_class", num_per_class), ("num_classes", num_classes), ("seed", seed)):
        _whole_number(value, argument)
    if num_per_class < 1 or num_classes < 2 or noise < 0:
        raise ValueError("num_per_class must be >= 1, num_classes >= 2 and noise >= 0.")
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.05, 1.0, num_per_class)
    xs, ys = [], []
    for label in range(num_classes):
        angle = np.linspace(0, 3 * np.pi, num_per_class) + 2 * np.pi * label / num_classes
        angle = angle + noise * rng.standard_normal(num_per_class)
        xs.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
        ys.append(np.full(num_per_class, label, dtype=np.int64))
    return PointData(x=np.concatenate(xs), y=np.concatenate(ys))


@dataclass(frozen=True)
class SequenceData:
    """A sequence task: ``x`` is ``float32`` ``[num_samples, length, features]``, ``y`` the
    targets (``float32`` ``[num_samples]`` for regression, ``int64`` for classification)."""

    x: np.ndarray
    y: np.ndarray


def make_adding_problem(num_samples: int, length: int, seed: int = 0) -> SequenceData:
    """The adding problem (Hochreiter & Schmidhuber, 1997).

    Each step carries two features: a random value in [0, 1) and a marker that is 1 at exactly
    two steps, one in the first half and one in the second half. The target is the sum of the
    two marked values. Predicting 1.0 always gives a mean squared error of about 0.167.
    """
    for argument, value in (("num_samples", num_samples), ("length", length), ("seed", seed)):
        _whole_number(value, argument)
    if num_samples < 1 or length < 2:
        raise ValueError(f"num_samples must be >= 1 and length >= 2, got {num_samples} and {length}.")
    rng = np.random.default_rng(seed)
    values = rng.random((num_samples, length))
    markers = np.zeros((num_samples, length))
    half = length // 2
    first = rng.integers(0, half, num_samples)
    second = rng.integers(half, length, num_samples)
    rows = np.arange(num_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)
    return SequenceData(x=x, y=y)


def make_delayed_recall(num_samples: int, delay: int, num_symbols: int = 8, seed: int = 0) -> SequenceData:
    """Remember the first symbol through ``delay`` steps of noise.

    A sequence is one-hot ``[num_samples, delay + 1, num_symbols]``: step 0 shows the symbol to
    remember, the next ``delay`` steps show random distractor symbols. The target (``int64``) is
    the symbol from step 0; guessing gives an accuracy of ``1 / num_symbols``.
    """
    for argument, value in (("num_samples", num_samples), ("delay", delay), ("num_symbols", num_symbols),
                            ("seed", seed)):
        _whole_number(value, argument)
    if num_samples < 1 or delay < 0 or num_symbols < 2:
        raise ValueError("num_samples must be >= 1, delay >= 0 and num_symbols >= 2.")
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, num_symbols, size=(num_samples, delay + 1))
    x = np.eye(num_symbols, dtype=np.float32)[symbols]
    return SequenceData(x=x, y=symbols[:, 0].astype(np.int64))


# --------------------------------------------------------------------------------------------
# Tiny Shakespeare as labelled speeches: which play does a speech come from?
# --------------------------------------------------------------------------------------------

# Tiny Shakespeare holds long excerpts of nine plays, one after another. Each play is found by
# the speaker and the first words of its first speech in the file; the principal characters
# (names that occur in one play only) check the result: every one of their speeches must fall
# inside their own play. Provenance: data/README.md.
PLAY_OPENINGS: tuple[tuple[str, str, str], ...] = (
    ("Coriolanus", "First Citizen", "Before we proceed any further"),
    ("Richard III", "GLOUCESTER", "Now is the winter of our discontent"),
    ("Richard II", "KING RICHARD II", "Old John of Gaunt"),
    ("Romeo and Juliet", "SAMPSON", "Gregory, o' my word"),
    ("Henry VI, Part 3", "WARWICK", "I wonder how the king escaped our hands"),
    ("The Winter's Tale", "ARCHIDAMUS", "If you shall chance, Camillo"),
    ("Measure for Measure", "DUKE VINCENTIO", "Escalus."),
    ("The Taming of the Shrew", "SLY", "I'll pheeze you"),
    ("The Tempest", "Master", "Boatswain!"),
)
PLAY_NAMES: tuple[str, ...] = tuple(play for play, _, _ in PLAY_OPENINGS)
SPEAKER_TO_PLAY: dict[str, str] = {
    speaker: play
    for play, speakers in (
        ("Coriolanus", ("CORIOLANUS", "MENENIUS", "VOLUMNIA", "SICINIUS", "BRUTUS", "AUFIDIUS", "COMINIUS",
                        "VIRGILIA", "VALERIA", "LARTIUS")),
        ("Richard III", ("KING RICHARD III", "BUCKINGHAM", "LADY ANNE", "RICHMOND", "CATESBY", "BRAKENBURY",
                         "TYRREL", "RATCLIFF")),
        ("Richard II", ("KING RICHARD II", "JOHN OF GAUNT", "HENRY BOLINGBROKE", "DUKE OF AUMERLE",
                        "THOMAS MOWBRAY", "BUSHY", "BAGOT", "DUKE OF YORK", "BISHOP OF CARLISLE")),
        ("Romeo and Juliet", ("ROMEO", "MERCUTIO", "FRIAR LAURENCE", "BENVOLIO", "TYBALT", "CAPULET",
                              "LADY CAPULET", "Nurse", "SAMPSON", "GREGORY")),
        ("Henry VI, Part 3", ("KING HENRY VI", "WARWICK", "CLIFFORD", "KING LEWIS XI", "LADY GREY", "RUTLAND")),
        ("The Winter's Tale", ("LEONTES", "HERMIONE", "POLIXENES", "PAULINA", "CAMILLO", "AUTOLYCUS",
                               "PERDITA", "FLORIZEL", "ANTIGONUS")),
        ("Measure for Measure", ("DUKE VINCENTIO", "ISABELLA", "ANGELO", "LUCIO", "ESCALUS", "CLAUDIO",
                                 "POMPEY", "Provost", "MARIANA")),
        ("The Taming of the Shrew", ("PETRUCHIO", "KATHARINA", "BAPTISTA", "TRANIO", "LUCENTIO", "GREMIO",
                                     "HORTENSIO", "GRUMIO", "SLY", "BIANCA")),
        ("The Tempest", ("PROSPERO", "MIRANDA", "ARIEL", "CALIBAN", "GONZALO", "FERDINAND", "ALONSO")),
    )
    for speaker in speakers
}


def label_speeches(text: str) -> tuple[list[str], list[str], np.ndarray]:
    """Cut tiny Shakespeare into speeches and label each with the index of its play.

    A speech is a block between blank lines whose first line is ``SPEAKER:`` (a few have no
    text after it: their stage business was cut). Plays are found
    with :data:`PLAY_OPENINGS`, in that order, and checked with :data:`SPEAKER_TO_PLAY`.

    Returns:
        ``speakers`` and ``speeches`` (the block, speaker line included), two lists of ``str``,
        and ``labels``, ``int64`` ``[num_speeches]`` of indices into :data:`PLAY_NAMES`.

    Raises:
        ValueError: the text does not have this structure (a block without a speaker line, a play
            opening not found or out of order, a principal speaker outside their play).
    """
    speeches = [block.strip("\n") for block in text.split("\n\n") if block.strip("\n")]
    speakers = []
    for number, speech in enumerate(speeches):
        first_line = speech.split("\n", 1)[0]
        if not first_line.endswith(":"):
            raise ValueError(f"Speech {number} does not start with a 'SPEAKER:' line: "
                             f"{speech[:60]!r}. Is this tiny Shakespeare? {RESTORE_HINT}.")
        speakers.append(first_line[:-1])
    starts = []
    for play, speaker, opening in PLAY_OPENINGS:
        after = starts[-1] + 1 if starts else 0
        found = next((i for i in range(after, len(speeches))
                      if speakers[i] == speaker and speeches[i].startswith(f"{speaker}:\n{opening}")), None)
        if found is None:
            raise ValueError(f"The opening of {play} ({speaker}: {opening!r}) was not found in order. {RESTORE_HINT}.")
        starts.append(found)
    if starts[0] != 0:
        raise ValueError(f"The text must begin with the opening of {PLAY_NAMES[0]}. {RESTORE_HINT}.")
    labels = np.searchsorted(np.array(starts), np.arange(len(speeches)), side="right").astype(np.int64) - 1
    for number, (speaker, label) in enumerate(zip(speakers, labels)):
        play = SPEAKER_TO_PLAY.get(speaker)
        if play is not None and PLAY_NAMES[label] != play:
            raise ValueError(f"Speech {number} by {speaker} falls in {PLAY_NAMES[label]}, but the table puts "
                             f"{speaker} in {play}. {RESTORE_HINT}.")
    return speakers, speeches, labels


@dataclass(frozen=True)
class SpeechData:
    """Speeches labelled by play, split three ways, and the text left for pretraining.

    ``text_*`` are object arrays of ``str`` ``[num_speeches]``: the words of one speech, its
    ``SPEAKER:`` line removed (the name would give the play away). ``y_*`` are ``int64``
    ``[num_speeches]`` indices into ``play_names``. ``pretraining_text`` is the whole file with
    every validation and test speech cut out (speaker lines kept, speeches still separated by
    blank lines), so that a model pretrained on it has never read them.
    """

    text_train: np.ndarray
    y_train: np.ndarray
    text_val: np.ndarray
    y_val: np.ndarray
    text_test: np.ndarray
    y_test: np.ndarray
    play_names: tuple[str, ...]
    pretraining_text: str


def load_play_speeches(min_characters: int = 100, val_fraction: float = 0.2, test_fraction: float = 0.2,
                       seed: int = 0) -> SpeechData:
    """Load tiny Shakespeare as a play-classification task: which play is this speech from?

    Args:
        min_characters: speeches with fewer characters of text than this (after the speaker line)
            are left out of the labelled splits (they stay in the pretraining text): "Ay, my
            lord." could be from any play.
        val_fraction, test_fraction: shares of each play's labelled speeches held out; the split
            is stratified, so every play appears in every split in the same proportion.
        seed: seeds the random choice of held-out speeches.

    Returns:
        :class:`SpeechData`; speeches keep the order of the file within each split.
    """
    if isinstance(min_characters, bool) or not isinstance(min_characters, int) or min_characters < 1:
        raise ValueError(f"min_characters must be a positive integer, got {min_characters!r}.")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}.")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be below 1 to leave speeches for training, "
                         f"got {val_fraction} + {test_fraction}.")
    speakers, speeches, labels = label_speeches(read_verified("tinyshakespeare.txt").decode("utf-8"))
    words = np.array([speech.partition("\n")[2] for speech in speeches], dtype=object)
    eligible = np.array([len(w) >= min_characters for w in words])
    rng = np.random.default_rng(seed)
    split = np.full(len(speeches), -1)  # -1: unlabelled, 0: train, 1: validation, 2: test
    for play in range(len(PLAY_NAMES)):
        members = rng.permutation(np.flatnonzero(eligible & (labels == play)))
        num_val, num_test = int(round(val_fraction * len(members))), int(round(test_fraction * len(members)))
        if min(num_val, num_test, len(members) - num_val - num_test) < 1:
            raise ValueError(f"{PLAY_NAMES[play]} has only {len(members)} speeches of at least {min_characters} "
                             f"characters, too few for three splits; lower min_characters.")
        split[members[:num_val]], split[members[num_val:num_val + num_test]] = 1, 2
        split[members[num_val + num_test:]] = 0
    pretraining_text = "\n\n".join(s for s, part in zip(speeches, split) if part not in (1, 2)) + "\n"
    pick = lambda part: (words[split == part], labels[split == part])  # noqa: E731
    (text_train, y_train), (text_val, y_val), (text_test, y_test) = pick(0), pick(1), pick(2)
    return SpeechData(text_train=text_train, y_train=y_train, text_val=text_val, y_val=y_val, text_test=text_test,
                      y_test=y_test, play_names=PLAY_NAMES, pretraining_text=pretraining_text)
