from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plotting

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_course_style_is_applied_only_on_request():
    matplotlib.rcdefaults()
    assert matplotlib.rcParams["figure.dpi"] != plotting.COURSE_STYLE["figure.dpi"] or True
    plotting.use_course_style()
    assert matplotlib.rcParams["savefig.dpi"] == 80 and matplotlib.rcParams["axes.spines.top"] is False


def test_learning_curves_single_and_several_runs():
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]}
    ax = plotting.plot_learning_curves(history)
    assert len(ax.get_lines()) == 2 and ax.get_xlabel() == "epoch" and ax.get_legend() is not None
    runs = {"adam": [history, {"loss": [0.9, 0.4, 0.2], "val_loss": [1.0, 0.6, 0.5]}], "sgd": history}
    _, ax = plt.subplots()
    assert plotting.plot_learning_curves(runs, ax=ax, validation=False) is ax
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 1  # one band, for the repeated runs
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.95, 0.45, 0.25])


def test_learning_curves_accepts_keras_history_and_rejects_bad_input():
    class History:
        history = {"accuracy": [0.5, 0.8]}

    ax = plotting.plot_learning_curves(History(), metric="accuracy")
    assert ax.get_ylabel() == "accuracy" and ax.get_legend() is None
    with pytest.raises(KeyError, match="available"):
        plotting.plot_learning_curves({"loss": [1.0]}, metric="accuracy")
    with pytest.raises(ValueError):
        plotting.plot_learning_curves({})
    with pytest.raises(TypeError):
        plotting.plot_learning_curves({"a": 3})


def test_image_grid():
    images = np.random.default_rng(0).integers(0, 255, size=(10, 28, 28))
    ax = plotting.show_image_grid(images, labels=[f"class {i}" for i in range(10)], num_columns=5)
    assert len(ax.texts) == 10 and ax.images[0].get_array().shape == (2 * 42 - 14, 5 * 35 - 7)
    assert plotting.show_image_grid(images[:3]).images[0].get_array().shape == (28, 3 * 30 - 2)
    with pytest.raises(ValueError, match="num_images, height, width"):
        plotting.show_image_grid(images.reshape(10, -1))
    with pytest.raises(ValueError, match="labels"):
        plotting.show_image_grid(images, labels=["a"])


def test_confusion_matrix_counts_and_normalises():
    ax = plotting.plot_confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c"], normalize=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert ax.get_xlabel() == "predicted class" and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    ax = plotting.plot_confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c"])
    np.testing.assert_allclose(ax.images[0].get_array()[0], [0.5, 0.5, 0])
    with pytest.raises(ValueError, match="Labels must lie"):
        plotting.plot_confusion_matrix([0, 3], [0, 1], ["a", "b", "c"])
    with pytest.raises(ValueError, match="differ in length"):
        plotting.plot_confusion_matrix([0], [0, 1], ["a", "b"])


def test_decision_boundary():
    x = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 0.5], [0.8, -0.2]])
    y = np.array([0, 1, 0, 1])
    ax = plotting.plot_decision_boundary(lambda p: 1 / (1 + np.exp(-(p[:, 0] + p[:, 1]))), x, y, resolution=50)
    assert ax.get_xlabel() == "$x_1$" and len(ax.collections) >= 3 and ax.get_legend() is not None
    assert len(ax.figure.axes) == 1  # no colour bar unless asked for
    ax = plotting.plot_decision_boundary(lambda p: 1 / (1 + np.exp(-p[:, 0])), x, y, resolution=20,
                                         colorbar_label="P(class 1)")
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "P(class 1)"
    with pytest.raises(ValueError, match=r"\[num_points, 2\]"):
        plotting.plot_decision_boundary(lambda p: p[:, 0], np.zeros((3, 3)), y[:3])


def test_heatmap():
    ax = plotting.plot_heatmap(np.eye(3), x_labels=list("abc"), y_labels=list("xyz"), colorbar_label="weight",
                               xlabel="key", ylabel="query")
    assert ax.get_xlabel() == "key" and len(ax.figure.axes) == 2
    with pytest.raises(ValueError, match="2-D"):
        plotting.plot_heatmap(np.zeros(3))


def test_loss_surface_with_trajectories():
    path = np.array([[1.0, 1.0], [0.5, 0.2], [0.0, 0.0]])
    ax = plotting.plot_loss_surface(lambda a, b: a**2 + 10 * b**2, (-2, 2), (-2, 2),
                                    {"gd": path, "adam": path * 0.5}, resolution=40)
    assert ax.get_xlim() == (-2, 2) and ax.get_legend() is not None
    plotting.plot_loss_surface(lambda a, b: (1 - a) ** 2 + 100 * (b - a**2) ** 2, (-2, 2), (-1, 3),
                               log_scale=True, resolution=40)
    with pytest.raises(ValueError, match="num_steps, 2"):
        plotting.plot_loss_surface(lambda a, b: a + b, (0, 1), (0, 1), {"bad": np.zeros(3)}, resolution=10)


# ---------------------------------------------------------------------------- faults (issue 19)

@pytest.mark.parametrize("y_true, y_pred, message", [
    ([], [], "empty"),
    ([0.0, 1.5], [0, 1], r"y_true holds non-integer values such as 1\.5"),
    ([0, 1], [[0.9, 0.1], [0.2, 0.8]], r"y_pred has shape \[2, 2\].*argmax\(axis=1\)"),
    ([0, 1], [0.1, 0.8], r"y_pred holds non-integer values such as 0\.1.*argmax"),
    (["a", "b"], [0, 1], "y_true must hold class indices"),
])
def test_confusion_matrix_explains_bad_labels(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_confusion_matrix(y_true, y_pred, ["a", "b"])


def test_confusion_matrix_accepts_whole_floats():
    ax = plotting.plot_confusion_matrix(np.array([0.0, 1.0]), np.array([1, 1]), ["a", "b"], normalize=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0, 1], [0, 1]])


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((0, 2)), np.zeros(0, dtype=int), "empty"),
    (np.zeros((3, 2)), np.array([0, 1]), "3 points but 2 labels"),
    (np.zeros((2, 2)), np.array([0.2, 0.7]), "non-integer values"),
])
def test_decision_boundary_explains_bad_points_and_labels(x, y, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_decision_boundary(lambda p: p[:, 0], x, y, resolution=10)


def test_empty_inputs_are_explained():
    with pytest.raises(ValueError, match="no images"):
        plotting.show_image_grid(np.zeros((0, 28, 28)))
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_heatmap(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="'loss' has no values"):
        plotting.plot_learning_curves({"loss": []})


def test_confusion_matrix_annotation_size_is_a_parameter():
    ax = plotting.plot_confusion_matrix([0, 1], [0, 1], ["a", "b"], fontsize=11)
    assert {text.get_fontsize() for text in ax.texts} == {11}
    ax = plotting.plot_confusion_matrix([0, 1], [0, 1], ["a", "b"])
    assert {text.get_fontsize() for text in ax.texts} == {9}


@pytest.mark.parametrize("fontsize", [0, -3, float("nan"), "big", True, 200])
def test_confusion_matrix_refuses_a_bad_fontsize(fontsize):
    with pytest.raises(ValueError, match="fontsize"):
        plotting.plot_confusion_matrix([0, 1], [0, 1], ["a", "b"], fontsize=fontsize)
