"""tinyrnn.train datasets: npz and UCI HAR loaders, generators, splits (numpy only)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tinyrnn import train as D
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.train import har, synthetic


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _good(n=6, t=5, f=3):
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(n, t, f)).astype(np.float32), "y": np.arange(n) % 3}


# ----------------------------------------------------------------------------- npz

def test_npz_round_trip(tmp_path):
    ds = D.make_dataset("mem", _good()["x"], _good()["y"], groups=np.array([1, 1, 2, 2, 3, 3]),
                        classes=["a", "b", "c"], meta={"channels": ["p", "q", "r"]})
    out = D.save_npz(ds, tmp_path / "sub" / "calib.npz")
    back = D.load_npz(out)
    assert back.x.dtype == np.float32 and back.y.dtype == np.int64
    assert np.array_equal(back.x, ds.x) and np.array_equal(back.y, ds.y)
    assert back.groups.tolist() == [1, 1, 2, 2, 3, 3]
    assert back.classes == ("a", "b", "c") and back.n_classes == 3
    assert back.meta["channels"] == ["p", "q", "r"]
    assert (back.timesteps, back.features, len(back)) == (5, 3, 6)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["calib.npz"]  # no temp left


def test_npz_float_integral_labels_accepted(tmp_path):
    arrays = _good()
    arrays["y"] = arrays["y"].astype(np.float64)
    assert D.load_npz(_write(tmp_path / "f.npz", **arrays)).y.dtype == np.int64


def test_npz_float_targets_are_regression(tmp_path):
    g = _good()
    for y in (g["y"] + 0.5, np.stack([g["y"] * 0.25, -g["y"] + 0.1], axis=1)):
        ds = D.load_npz(_write(tmp_path / "r.npz", x=g["x"], y=y))
        assert ds.is_regression and ds.y.dtype == np.float64 and np.array_equal(ds.y, y) and ds.n_classes == 0
        train, val = D.split(ds, 0.5, seed=0)
        assert len(train) + len(val) == 6 and len(val) == 3


def test_npz_whole_number_targets_stay_regression_through_save(tmp_path):
    g = _good()
    ds = D.make_dataset("mem", g["x"], g["y"].astype(np.float64), task="regression")
    back = D.load_npz(D.save_npz(ds, tmp_path / "w.npz"))
    assert back.is_regression and np.array_equal(back.y, g["y"])
    assert not D.load_npz(_write(tmp_path / "c.npz", **g)).is_regression


def test_npz_per_step_labels(tmp_path):
    g = _good()
    y = (np.arange(30).reshape(6, 5) % 4).astype(np.float32)  # whole-number floats: class ids
    ds = D.load_npz(_write(tmp_path / "s.npz", x=g["x"], y=y))
    assert ds.y.dtype == np.int64 and ds.y.shape == (6, 5) and ds.n_classes == 4 and not ds.is_regression
    assert len(D.split(ds, 0.5, seed=1)[1]) == 3


def _bad_cases():
    g = _good()
    nan_x = g["x"].copy()
    nan_x[4, 2, 1] = np.nan
    inf_x = g["x"].copy()
    inf_x[0, 0, 0] = np.inf
    return {
        "missing_y": ({"x": g["x"]}, "missing key 'y'"),
        "missing_x": ({"y": g["y"]}, "missing key 'x'"),
        "x_2d": ({"x": g["x"][:, :, 0], "y": g["y"]}, "(N, T, F)"),
        "x_strings": ({"x": np.full((6, 5, 3), "a"), "y": g["y"]}, "numeric"),
        "nan": ({"x": nan_x, "y": g["y"]}, "NaN/Inf values (first in window 4)"),
        "inf": ({"x": inf_x, "y": g["y"]}, "NaN/Inf"),
        "n_mismatch": ({"x": g["x"], "y": g["y"][:5]}, "6 windows but y has 5"),
        "empty": ({"x": np.zeros((0, 5, 3), np.float32), "y": np.zeros(0, int)}, "empty"),
        "y_nan_target": ({"x": g["x"], "y": np.where(g["y"] == 1, np.nan, 0.5)}, "NaN/Inf targets (first in window 1)"),
        "y_per_step_wrong_t": ({"x": g["x"], "y": np.zeros((6, 4), int)}, "(N, 5) per-step ids"),
        "task_unknown": ({**g, "task": np.asarray("ranking")}, "task must be"),
        "y_negative": ({"x": g["x"], "y": g["y"] - 1}, "negative label"),
        "y_onehot": ({"x": g["x"], "y": np.eye(3)[g["y"]]}, "one-hot"),
        "y_bool": ({"x": g["x"], "y": g["y"] > 0}, "integer class ids"),
        "y_out_of_range": ({**g, "classes": np.array(["a", "b"])}, "out of range for 2 classes"),
        "groups_shape": ({**g, "groups": np.arange(4)}, "groups must be (6,)"),
    }


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_npz_malformed(tmp_path, case):
    arrays, message = _bad_cases()[case]
    path = _write(tmp_path / f"{case}.npz", **arrays)
    with pytest.raises(TinyrnnError) as err:
        D.load_npz(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_npz_unreadable(tmp_path):
    with pytest.raises(TinyrnnError, match="absent.npz: no such data file"):
        D.load_npz(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(TinyrnnError, match="junk.npz"):
        D.load_npz(junk)
    obj = tmp_path / "obj.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(TinyrnnError, match="pickled"):
        D.load_npz(obj)
    with pytest.raises(TinyrnnError, match=r"\.npz"):
        D.save_npz(D.load_npz(_write(tmp_path / "ok.npz", **_good())), tmp_path / "out.bin")


# ----------------------------------------------------------------------------- UCI HAR folder

def _write_har_part(root: Path, part: str, labels, subjects, t=16, skip=()):
    rng = np.random.default_rng(len(labels))
    sig = root / part / "Inertial Signals"
    sig.mkdir(parents=True, exist_ok=True)
    for ch in D.HAR_CHANNELS:
        if ch not in skip:
            np.savetxt(sig / f"{ch}_{part}.txt", rng.normal(size=(len(labels), t)), fmt="%.7e")
    for name, values in (("y", labels), ("subject", subjects)):
        if name not in skip:
            np.savetxt(root / part / f"{name}_{part}.txt", np.asarray(values), fmt="%d")


def _har_folder(tmp_path):
    root = tmp_path / "UCI HAR Dataset"
    _write_har_part(root, "train", [5, 5, 4, 1, 2, 6, 3, 1], [1, 1, 1, 3, 3, 3, 3, 5])
    _write_har_part(root, "test", [1, 2, 3, 4], [2, 2, 9, 9])
    (root / "activity_labels.txt").write_text(
        "1 WALKING\n2 WALKING_UPSTAIRS\n3 WALKING_DOWNSTAIRS\n4 SITTING\n5 STANDING\n6 LAYING\n")
    return root


def test_uci_har_folder(tmp_path):
    root = _har_folder(tmp_path)
    ds = D.load_uci_har(root)
    assert ds.x.shape == (8, 16, 9) and ds.x.dtype == np.float32
    assert ds.y.tolist() == [4, 4, 3, 0, 1, 5, 2, 0]
    assert ds.groups.tolist() == [1, 1, 1, 3, 3, 3, 3, 5]
    assert ds.classes[0] == "walking" and ds.n_classes == 6
    ref = np.loadtxt(root / "train" / "Inertial Signals" / "body_gyro_y_train.txt")
    assert np.allclose(ds.x[:, :, 4], ref)
    # the parent folder and the resolver work too; "all" concatenates both parts
    assert len(D.load_uci_har(tmp_path, part="test")) == 4
    both = D.load_dataset(str(root), part="all")
    assert len(both) == 12 and both.groups[-1] == 9
    tr, va = D.split(both, 0.3, seed=1)
    assert not set(tr.groups) & set(va.groups)


@pytest.mark.parametrize("problem,message", [
    ("label_7", "label 7 is not an activity 1..6"),
    ("label_0", "label 0 is not an activity"),
    ("no_subjects", "subject_train.txt: missing"),
    ("no_labels", "y_train.txt: missing"),
    ("no_channel", "total_acc_z_train.txt: missing"),
    ("short_labels", "3 rows but the signals have 4 windows"),
    ("ragged", "differs from body_acc_x_train.txt"),
])
def test_uci_har_folder_malformed(tmp_path, problem, message):
    root = tmp_path / "har"
    labels, subjects, skip = [1, 2, 3, 4], [1, 1, 2, 2], ()
    if problem == "label_7":
        labels = [1, 7, 3, 4]
    elif problem == "label_0":
        labels = [1, 0, 3, 4]
    elif problem == "short_labels":
        labels = [1, 2, 3]
    elif problem.startswith("no_"):
        skip = {"no_subjects": ("subject",), "no_labels": ("y",),
                "no_channel": ("total_acc_z",)}[problem]
    _write_har_part(root, "train", labels if problem != "short_labels" else [1, 2, 3, 4],
                    subjects, skip=skip)
    if problem == "short_labels":
        np.savetxt(root / "train" / "y_train.txt", np.array(labels), fmt="%d")
    if problem == "ragged":
        np.savetxt(root / "train" / "Inertial Signals" / "body_gyro_x_train.txt", np.zeros((4, 9)))
    with pytest.raises(TinyrnnError) as err:
        D.load_uci_har(root)
    assert message in str(err.value)


def test_uci_har_not_a_folder(tmp_path):
    with pytest.raises(TinyrnnError, match="not a UCI HAR folder"):
        D.load_uci_har(tmp_path)
    with pytest.raises(TinyrnnError, match="part must be"):
        D.load_uci_har(tmp_path, part="dev")


def test_har_session_groups():
    # static (3,4,5) then walking (0,1,2) makes one session
    y = np.array([4, 4, 3, 5, 0, 2, 1, 4, 3, 0, 0, 5])
    assert har.har_session_groups(y).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert har.har_subject_groups(y).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert har.har_subject_groups(y[:11]).tolist() == [0] * 11   # two sessions, one subject


# ----------------------------------------------------------------------------- resolver

def test_load_dataset_specs(tmp_path):
    ds = D.load_dataset("synthetic:multitone", n=40, seed=3)
    assert ds.name == "multitone" and len(ds) == 40
    path = _write(tmp_path / "d.npz", **_good())
    assert len(D.load_dataset(str(path))) == 6
    assert D.load_dataset(ds) is ds
    with pytest.raises(TinyrnnError, match="unknown generator"):
        D.load_dataset("synthetic:nope")
    with pytest.raises(TinyrnnError, match="synthetic:delayed_recall"):
        D.load_dataset(str(tmp_path / "missing.npz.gz"))
    (tmp_path / "file.csv").write_text("1,2\n")
    with pytest.raises(TinyrnnError, match="unsupported"):
        D.load_dataset(str(tmp_path / "file.csv"))


def test_datasets_do_not_import_tensorflow():
    import subprocess
    code = ("import sys, tinyrnn.train as t; t.load_dataset('synthetic:delayed_recall', n=8); "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- split

def test_split_by_group_disjoint_and_deterministic():
    groups = np.repeat(np.arange(20), 10)
    ds = D.make_dataset("g", np.zeros((200, 4, 2)), np.arange(200) % 4, groups=groups)
    tr, va = D.split(ds, 0.2, seed=5)
    assert not set(tr.groups) & set(va.groups)
    assert len(va) == 40 and len(tr) + len(va) == 200
    tr2, va2 = D.split(ds, 0.2, seed=5)
    assert np.array_equal(va.groups, va2.groups)
    assert not np.array_equal(D.split(ds, 0.2, seed=6)[1].groups, va.groups)
    # without by_group: stratified by label, groups may straddle
    tr3, va3 = D.split(ds, 0.25, seed=5, by_group=False)
    assert np.bincount(va3.y).tolist() == [12, 12, 12, 12]


def test_split_errors():
    ds = D.make_dataset("g", np.zeros((10, 4, 2)), np.arange(10) % 2, groups=np.zeros(10, int))
    with pytest.raises(TinyrnnError, match="only one group"):
        D.split(ds, 0.2)
    with pytest.raises(TinyrnnError, match="between 0 and 1"):
        D.split(ds, 1.5)


# ----------------------------------------------------------------------------- generators

def _centroid_acc(train_f, train_y, val_f, val_y):
    cents = np.stack([train_f[train_y == c].mean(0) for c in np.unique(train_y)])
    pred = np.argmin(((val_f[:, None] - cents[None]) ** 2).sum(-1), axis=1)
    return float((pred == val_y).mean())


def _logreg_acc(train_f, train_y, val_f, val_y, steps=300, lr=0.5):
    mu, sd = train_f.mean(0), train_f.std(0) + 1e-6
    a, b = (train_f - mu) / sd, (val_f - mu) / sd
    k = int(train_y.max()) + 1
    w, bias, onehot = np.zeros((a.shape[1], k)), np.zeros(k), np.eye(k)[train_y]
    for _ in range(steps):
        z = a @ w + bias
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= lr * a.T @ (p - onehot) / len(a)
        bias -= lr * (p - onehot).mean(0)
    return float((np.argmax(b @ w + bias, 1) == val_y).mean())


@pytest.mark.parametrize("name", sorted(synthetic.GENERATORS))
def test_generator_deterministic(name):
    a, b = synthetic.generate(name, n=64, seed=7), synthetic.generate(name, n=64, seed=7)
    assert a.x.tobytes() == b.x.tobytes() and a.y.tobytes() == b.y.tobytes()
    assert synthetic.generate(name, n=64, seed=8).x.tobytes() != a.x.tobytes()
    assert a.x.dtype == np.float32 and 3 <= a.features <= 9 and 20 <= a.timesteps <= 64
    assert np.isfinite(a.x).all() and len(a.classes) == a.n_classes


@pytest.mark.parametrize("name", sorted(synthetic.GENERATORS))
def test_last_step_baseline_near_chance(name):
    ds = synthetic.generate(name, n=4000, seed=11)
    tr, va = D.split(ds, 0.25, seed=0)
    chance = 1.0 / ds.n_classes
    assert np.bincount(ds.y).min() == np.bincount(ds.y).max()   # balanced
    last = (tr.x[:, -1], tr.y, va.x[:, -1], va.y)
    assert _centroid_acc(*last) < chance + 0.06
    assert _logreg_acc(*last) < chance + 0.06


def test_generator_bad_arguments():
    with pytest.raises(TinyrnnError, match="n must be"):
        synthetic.delayed_recall(n=0)
    with pytest.raises(TinyrnnError, match="T must be"):
        synthetic.multitone(n=10, timesteps=4)
    with pytest.raises(TinyrnnError, match="cue_steps"):
        synthetic.delayed_recall(n=10, cue_steps=20)


# ----------------------------------------------------------------------------- shared HAR npz

@pytest.fixture
def har_ds(har_npz):
    """The shared HAR npz (conftest's ``har_npz`` skips when ../shared is absent)."""
    return D.load_uci_har(har_npz)


def test_har_npz(har_ds, har_npz):   # har_npz: <repo>/../shared/data/har_train.npz
    ds = har_ds
    assert ds.x.shape == (2400, 128, 9) and ds.x.dtype == np.float32
    assert set(ds.y.tolist()) == set(range(6)) and ds.classes == D.HAR_CLASSES
    assert ds.meta["channels"] == list(D.HAR_CHANNELS)
    # 42 recording sessions, paired into the 21 training subjects of UCI HAR
    assert ds.meta["groups_inferred"] == "har_session_pairs"
    assert len(set(har.har_session_groups(ds.y))) == 42 and len(set(ds.groups)) == 21
    # the resolver recognises the layout from its channel names
    assert np.array_equal(D.load_dataset(str(har_npz)).groups, ds.groups)


def test_har_npz_split_has_no_overlapping_windows(har_ds):
    ds = har_ds
    tr, va = D.split(ds, 0.2, seed=0)
    assert 0.15 < len(va) / len(ds) < 0.25 and not set(tr.groups) & set(va.groups)
    # consecutive windows overlap by half (64 samples); none may straddle the split
    overlap = np.all(ds.x[:-1, 64:] == ds.x[1:, :64], axis=(1, 2))
    assert overlap.sum() > 100
    same_group = ds.groups[:-1] == ds.groups[1:]
    assert same_group[overlap].all()
