from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib import data


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)


def test_fashion_mnist_shapes_dtypes_and_split():
    images = data.load_fashion_mnist(val_size=5000, seed=0)
    assert images.x_train.shape == (55_000, 28, 28) and images.x_train.dtype == np.uint8
    assert images.x_val.shape == (5_000, 28, 28) and images.x_test.shape == (10_000, 28, 28)
    assert images.y_train.dtype == np.int64 and set(np.unique(images.y_test)) == set(range(10))
    assert images.x_train.max() == 255 and images.x_train.min() == 0
    assert len(images.class_names) == 10 and images.class_names[9] == "Ankle boot"
    # Each class has 6,000 training images: the split partitions them.
    assert np.bincount(np.concatenate([images.y_train, images.y_val])).tolist() == [6000] * 10


def test_fashion_mnist_split_is_reproducible_and_seeded():
    first, again, other = (data.load_fashion_mnist(val_size=100, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(first.x_val, again.x_val)
    assert not np.array_equal(first.x_val, other.x_val)
    assert data.load_fashion_mnist(val_size=0).x_val.shape == (0, 28, 28)


@pytest.mark.parametrize("val_size", [-1, 60_000])
def test_fashion_mnist_rejects_bad_val_size(val_size):
    with pytest.raises(ValueError, match="val_size"):
        data.load_fashion_mnist(val_size=val_size)


def test_co2_split_in_time_order():
    series = data.load_co2()
    assert series.ppm.shape == (792,) and series.time.dtype == np.float64
    assert (len(series.ppm_train), len(series.ppm_val), len(series.ppm_test)) == (554, 119, 119)
    assert series.time_train[-1] < series.time_val[0] < series.time_val[-1] < series.time_test[0]
    np.testing.assert_array_equal(np.concatenate([series.ppm_train, series.ppm_val, series.ppm_test]), series.ppm)
    assert series.ppm_test.min() > series.ppm_train.max()  # why the chapter predicts changes


@pytest.mark.parametrize("fractions", [(0.0, 0.1), (0.9, 0.1), (0.5, -0.1)])
def test_co2_rejects_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fraction"):
        data.load_co2(*fractions)


def test_shakespeare_split_and_round_trip():
    text = data.load_shakespeare()
    assert text.vocab_size == 65 and len(text.text) == 1_115_394
    assert len(text.train_ids) + len(text.val_ids) == len(text.text)
    assert len(text.train_ids) == round(0.9 * len(text.text)) and text.train_ids.dtype == np.int32
    assert text.decode(text.train_ids[:100]) == text.text[:100]
    assert text.decode(text.encode("To be, or not")) == "To be, or not"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        text.encode("café")
    with pytest.raises(ValueError, match="ids must lie"):
        text.decode([0, 65])
    with pytest.raises(ValueError, match="train_fraction"):
        data.load_shakespeare(train_fraction=1.0)


def test_missing_file_names_file_and_fix(data_copy):
    (data_copy / "tinyshakespeare.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"tinyshakespeare\.txt.*git checkout data/"):
        data.load_shakespeare()


def test_corrupted_file_names_file_and_fix(data_copy):
    path = data_copy / "co2_mm_mlo.csv"
    path.write_bytes(path.read_bytes().replace(b"315.7", b"999.9"))
    with pytest.raises(ValueError, match=r"co2_mm_mlo\.csv is corrupted.*git checkout data/"):
        data.load_co2()


def test_gzip_checked_on_decompressed_bytes(data_copy):
    path = data_copy / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content, mtime=12345))  # another mirror's header: still fine
    data.read_verified("fashion-mnist/t10k-labels-idx1-ubyte.gz")
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        data.load_fashion_mnist()
    path.write_bytes(gzip.compress(content[:-1] + b"\x07"))
    with pytest.raises(ValueError, match="corrupted"):
        data.load_fashion_mnist()


def test_unknown_data_file():
    with pytest.raises(ValueError, match="Unknown data file"):
        data.read_verified("mnist.npz")


def test_parse_idx_checks_magic_and_shape():
    header = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big")
    np.testing.assert_array_equal(data.parse_idx(header + bytes([1, 2, 3]), (3,)), [1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        data.parse_idx(header + bytes([1, 2, 3]), (4,), "labels")
    with pytest.raises(ValueError, match="magic"):
        data.parse_idx(b"\x00\x00\x0d\x01" + header[4:], (3,))
    with pytest.raises(ValueError, match="holds 2 values"):
        data.parse_idx(header + bytes([1, 2]), (3,))


def test_override_must_be_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="COURSE_DATA_DIR"):
        data.data_dir()


@pytest.mark.parametrize("where", ["notebooks", "notebooks/solutions", "work", "build/notebooks/solutions"])
def test_data_found_from_every_place_a_notebook_runs(root, monkeypatch, where):
    folder = root / where
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(folder)
    assert data.data_dir() == root / "data"


def test_data_found_with_a_non_editable_install(root, tmp_path):
    """A copy of the package outside the repository (as pip install . makes) still finds data/
    from a notebook's folder, and outside the repository fails with the fix in the message."""
    import shutil

    site = tmp_path / "site-packages"
    shutil.copytree(root / "course_lib", site / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    code = "from course_lib import data; print(data.__file__); print(data.data_dir())"
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("COURSE_DATA_DIR", None)
    inside = subprocess.run([sys.executable, "-c", code], cwd=root / "notebooks", env=env, capture_output=True, text=True)
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.splitlines() == [str(site / "course_lib" / "data.py"), str(root / "data")]
    outside = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert outside.returncode != 0 and "COURSE_DATA_DIR" in outside.stderr


def test_blobs_are_linearly_separable_and_seeded():
    points = data.make_blobs(num_per_class=200, seed=3)
    assert points.x.shape == (400, 2) and points.y.tolist() == [0] * 200 + [1] * 200
    assert np.all(points.x[points.y == 0].sum(axis=1) < 0) and np.all(points.x[points.y == 1].sum(axis=1) > 0)
    np.testing.assert_array_equal(points.x, data.make_blobs(num_per_class=200, seed=3).x)
    assert np.min(np.abs(points.x.sum(axis=1))) / np.sqrt(2) >= 0.2  # the promised margin
    with pytest.raises(ValueError):
        data.make_blobs(num_per_class=0)
    with pytest.raises(ValueError, match="margin"):
        data.make_blobs(margin=5.0)
    overlapping = data.make_blobs(num_per_class=500, separation=1.0, margin=None, seed=0)
    assert np.any(overlapping.x[overlapping.y == 0].sum(axis=1) > 0)


def test_logic_gates():
    assert data.make_logic_gate("AND").y.tolist() == [0, 0, 0, 1]
    assert data.make_logic_gate("xor").y.tolist() == [0, 1, 1, 0]
    assert data.make_logic_gate("or").x.shape == (4, 2)
    with pytest.raises(ValueError, match="Unknown logic gate"):
        data.make_logic_gate("xnor2")


def test_xor_and_spirals():
    xor = data.make_xor(num_points=500, noise=0.0, seed=1)
    assert np.all(xor.y == (xor.x[:, 0].round() != xor.x[:, 1].round()))
    spirals = data.make_spirals(num_per_class=50, num_classes=3, seed=0)
    assert spirals.x.shape == (150, 2) and np.bincount(spirals.y).tolist() == [50, 50, 50]
    assert np.all(np.linalg.norm(spirals.x, axis=1) <= 1.0 + 1e-9)
    with pytest.raises(ValueError):
        data.make_xor(num_points=2)
    with pytest.raises(ValueError):
        data.make_spirals(num_classes=1)


def test_adding_problem_targets_are_the_marked_sums():
    task = data.make_adding_problem(num_samples=64, length=20, seed=0)
    assert task.x.shape == (64, 20, 2) and task.x.dtype == np.float32
    assert np.all(task.x[:, :, 1].sum(axis=1) == 2)
    assert np.all(task.x[:, :10, 1].sum(axis=1) == 1)  # one marker in each half
    np.testing.assert_allclose(task.y, (task.x[:, :, 0] * task.x[:, :, 1]).sum(axis=1), rtol=1e-6)
    with pytest.raises(ValueError):
        data.make_adding_problem(num_samples=1, length=1)


def test_delayed_recall_target_is_first_symbol():
    task = data.make_delayed_recall(num_samples=32, delay=5, num_symbols=4, seed=0)
    assert task.x.shape == (32, 6, 4) and task.y.dtype == np.int64
    np.testing.assert_array_equal(task.x[:, 0].argmax(axis=1), task.y)
    np.testing.assert_array_equal(task.x.sum(axis=2), 1)
    with pytest.raises(ValueError):
        data.make_delayed_recall(num_samples=4, delay=-1)


def test_split_by_position():
    parts = data.split_by_position(10, (0.7, 0.2, 0.1))
    assert [(s.start, s.stop) for s in parts] == [(0, 7), (7, 9), (9, 10)]
    with pytest.raises(ValueError):
        data.split_by_position(10, (0.5, 0.2))


def test_data_readme_lists_every_checksum(root):
    readme = (root / "data" / "README.md").read_text()
    for name, digest in data.CHECKSUMS.items():
        assert name in readme and digest in readme, f"data/README.md lacks {name} or its checksum"


# ---------------------------------------------------------------------------- faults (issue 19)

@pytest.mark.parametrize("fractions, split", [((0.7, 0.2999), "test"), ((1e-4, 0.1), "training"),
                                              ((0.7, 0.0001), "validation")])
def test_co2_refuses_an_empty_split(fractions, split):
    with pytest.raises(ValueError, match=rf"{split} split.*0 months"):
        data.load_co2(*fractions)


def test_co2_allows_no_validation_split_when_asked():
    assert len(data.load_co2(0.8, 0.0).ppm_val) == 0


@pytest.mark.parametrize("fraction, split", [(1e-9, "training"), (1 - 1e-9, "validation")])
def test_shakespeare_refuses_an_empty_split(fraction, split):
    with pytest.raises(ValueError, match=rf"train_fraction={fraction}.*{split} split.*0 characters"):
        data.load_shakespeare(fraction)


@pytest.mark.parametrize("call, argument", [
    (lambda: data.load_fashion_mnist(val_size=5000.0), "val_size"),
    (lambda: data.load_fashion_mnist(val_size="5000"), "val_size"),
    (lambda: data.load_fashion_mnist(seed=1.5), "seed"),
    (lambda: data.load_fashion_mnist(seed="0"), "seed"),
    (lambda: data.load_co2("0.7"), "train_fraction"),
    (lambda: data.load_shakespeare(None), "train_fraction"),
    (lambda: data.make_blobs(num_per_class=2.5), "num_per_class"),
    (lambda: data.make_xor(seed=0.5), "seed"),
    (lambda: data.make_adding_problem(10.0, 5), "num_samples"),
    (lambda: data.make_delayed_recall(8, delay="3"), "delay"),
])
def test_wrong_argument_types_name_the_argument(call, argument):
    with pytest.raises(TypeError, match=rf"{argument} must be"):
        call()


def test_numpy_integers_are_accepted():
    assert data.make_xor(num_points=np.int64(8), seed=np.int32(1)).x.shape == (8, 2)


def fake_repository(tmp_path, root, leave_out=()):
    """A course folder with data/ linked file by file from the real one, minus ``leave_out``."""
    for name in data.CHECKSUMS:
        if name in leave_out or name.split("/")[0] in leave_out:
            continue
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).symlink_to(root / "data" / name)
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_a_missing_file_is_named_not_the_whole_folder(tmp_path, root, monkeypatch):
    monkeypatch.chdir(fake_repository(tmp_path, root, leave_out=["co2_mm_mlo.csv"]) / "notebooks")
    with pytest.raises(FileNotFoundError, match=r"co2_mm_mlo\.csv is missing.*git checkout data/"):
        data.load_co2()


def test_a_data_folder_replaced_by_a_file_is_named(tmp_path, root, monkeypatch):
    fake_repository(tmp_path, root, leave_out=["fashion-mnist"])
    (tmp_path / "data" / "fashion-mnist").write_text("oops")
    monkeypatch.chdir(tmp_path / "notebooks")
    with pytest.raises(FileNotFoundError, match=r"fashion-mnist is a file, not a folder.*git checkout data/"):
        data.load_fashion_mnist()


def test_an_unreadable_file_is_named_with_the_fix(data_copy, monkeypatch):
    target = data_copy / "co2_mm_mlo.csv"
    original = Path.read_bytes

    def refuse(path):
        if path == target:
            raise PermissionError(13, "Permission denied", str(path))
        return original(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(PermissionError, match=r"Cannot read data file .*co2_mm_mlo\.csv.*chmod"):
        data.load_co2()


def test_override_pointing_at_an_empty_folder_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"COURSE_DATA_DIR=.*holds none of the course's data files"):
        data.load_co2()


def test_relative_override_resolves_from_the_current_folder_and_says_so(monkeypatch, tmp_path, root):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("COURSE_DATA_DIR", "../mydata")
    with pytest.raises(FileNotFoundError, match=rf"COURSE_DATA_DIR='../mydata'.*{tmp_path / 'mydata'}"):
        data.data_dir()
    (tmp_path / "mydata").symlink_to(root / "data")
    assert data.data_dir() == tmp_path / "mydata"


def test_check_environment_reports_an_unreadable_data_file(data_copy, monkeypatch):
    pytest.importorskip("tensorflow")
    from course_lib import setup

    target = data_copy / "tinyshakespeare.txt"
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda path: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(path))) if path == target else original(path))
    broken = [check for check in setup.check_environment() if not check.ok]
    assert [check.name for check in broken] == ["data/tinyshakespeare.txt"]
    assert "Cannot read data file" in broken[0].detail
