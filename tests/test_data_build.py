"""Building the course-format dataset from Omniglot zips: counts, split, pixels, rebuilds."""
import numpy as np
import pytest

from pipeline.course_archive import read_course_archive, write_course_archive
from pipeline.dataset_checks import to_dataset
from pipeline.omniglot_zip import OmniglotZipError, build_dataset
from pipeline.params import load_params, parse, section
from pipeline.prepared import IMAGE_SIDE, PIXELS
from stages.fetch import FetchParams
from tests.conftest import ROOT
from tests.data_helpers import SMALL_ALPHABETS, SMALL_CHARACTERS, omniglot_zip, png_bytes

MIB = 1 << 20


def default_params():
    return parse(FetchParams, section(load_params(ROOT / "params.yaml"), "fetch"), "fetch")


def build(zip_path, alphabets, test_characters=10, seed=0, pixels="stored", order="C"):
    return build_dataset(zip_path, alphabets, test_characters, seed, pixels, order)


@pytest.fixture(scope="session")
def full_build(shared_omniglot):
    """The default 12-alphabet build from the full background zip, shared by several tests."""
    p = default_params()
    return build(shared_omniglot / "images_background.zip", p.alphabets, p.test_characters,
                 p.split_seed, p.pixels, p.order)


@pytest.fixture(scope="session", params=sorted(SMALL_ALPHABETS))
def small_build(request, shared_omniglot):
    """(zip name, zip path, C-order build with 20 test characters) for each official small zip."""
    name = request.param
    path = shared_omniglot / name
    return name, path, build(path, SMALL_ALPHABETS[name], test_characters=20)


def test_default_params_give_the_courses_counts(full_build):
    ((train_x, train_y), (test_x, test_y)), info = full_build
    assert train_x.shape == (6660, PIXELS) and test_x.shape == (1660, PIXELS)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    assert info["characters"] == {"train": 333, "test": 83}
    assert len(info["test_character_names"]) == 83
    assert sorted(set(train_y.tolist())) == list(range(12))
    assert set(np.unique(test_y).tolist()) <= set(range(12))
    # 1 = background, 0 = ink: backgrounds dominate.
    assert set(np.unique(train_x).tolist()) == {0, 1} and train_x.mean() > 0.85


def test_default_build_round_trips_through_the_course_archive(full_build, tmp_path):
    (train, test), _ = full_build
    write_course_archive(tmp_path / "a.tar", (train, test))
    dataset = to_dataset(read_course_archive(tmp_path / "a.tar", 200 * MIB), 12, "a.tar")
    assert np.array_equal(dataset.train_x, train[0]) and np.array_equal(dataset.test_y, test[1])
    assert dataset.train_x.dtype == np.uint8


def test_same_params_give_a_byte_identical_archive(full_build, shared_omniglot, tmp_path):
    data, _ = full_build
    p = default_params()
    again, _ = build(shared_omniglot / "images_background.zip", p.alphabets,
                     p.test_characters, p.split_seed, p.pixels, p.order)
    write_course_archive(tmp_path / "first.tar", data)
    write_course_archive(tmp_path / "second.tar", again)
    assert (tmp_path / "first.tar").read_bytes() == (tmp_path / "second.tar").read_bytes()


def test_small_zip_counts_labels_and_split_by_character(small_build):
    name, _, (((train_x, train_y), (test_x, test_y)), info) = small_build
    characters = SMALL_CHARACTERS[name]
    assert info["characters"] == {"train": characters - 20, "test": 20}
    assert len(train_y) == 20 * (characters - 20) and len(test_y) == 20 * 20
    assert train_x.shape == (len(train_y), PIXELS)
    assert sorted(np.unique(train_y).tolist()) == list(range(5))
    # Ordered by (label, character, drawer): labels never decrease, in blocks of 20.
    for y in (train_y, test_y):
        assert np.all(np.diff(y) >= 0)
        assert np.all(y.reshape(-1, 20) == y[::20, None])
    assert set(np.unique(np.concatenate([train_x, test_x])).tolist()) == {0, 1}


def test_small_zip_orders_and_ink(small_build):
    _, path, (((c_x, c_y), (c_test, _)), info) = small_build
    alphabets = SMALL_ALPHABETS[path.name]
    ((f_x, f_y), _), f_info = build(path, alphabets, test_characters=20, order="F")
    ((ink_x, _), _), _ = build(path, alphabets, test_characters=20, pixels="ink")
    assert f_info == info and np.array_equal(c_y, f_y)
    images = c_x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    assert np.array_equal(f_x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), images.transpose(0, 2, 1))
    assert np.array_equal(f_x[0].reshape(IMAGE_SIDE, IMAGE_SIDE, order="F"), images[0])
    assert np.array_equal(ink_x, 1 - c_x)


def test_small_zip_rebuild_is_byte_identical(small_build, tmp_path):
    _, path, (data, _) = small_build
    again, _ = build(path, SMALL_ALPHABETS[path.name], test_characters=20)
    write_course_archive(tmp_path / "first.tar", data)
    write_course_archive(tmp_path / "second.tar", again)
    assert (tmp_path / "first.tar").read_bytes() == (tmp_path / "second.tar").read_bytes()


def test_split_seed_chooses_other_characters(small_build):
    _, path, (_, info) = small_build
    _, other = build(path, SMALL_ALPHABETS[path.name], test_characters=20, seed=1)
    assert other["test_character_names"] != info["test_character_names"]
    assert len(set(other["test_character_names"])) == 20


def test_labels_follow_the_alphabet_list_and_drawings_stay_together(tmp_path):
    # Each synthetic drawing has its ink dot at (character code, drawer).
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 3, "Beta": 4})
    ((x, y), (test_x, test_y)), info = build(path, ["Beta", "Alpha"], test_characters=2)
    assert info["characters"] == {"train": 5, "test": 2}
    images = np.concatenate([x, test_x]).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    labels = np.concatenate([y, test_y])
    dots = [tuple(np.argwhere(image == 0)[0]) for image in images]
    codes = [row for row, _ in dots]
    assert [drawer for _, drawer in dots] == list(range(1, 21)) * 7
    for block in range(7):
        assert len(set(codes[20 * block:20 * block + 20])) == 1
    # Beta (codes 4-7) is label 0, Alpha (codes 1-3) label 1.
    assert all((code >= 4) == (label == 0) for code, label in zip(codes, labels))


def test_junk_entries_and_directory_entries_are_ignored(tmp_path):
    extra = {"__MACOSX/images_background/Alpha/._character01": b"junk",
             "images_background/Alpha/.DS_Store": b"junk"}
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 2, "Beta": 2}, extra=extra)
    (train, test), info = build(path, ["Alpha", "Beta"], test_characters=1)
    assert len(train[1]) + len(test[1]) == 80


def character(root="images_background", first=None):
    """Entries of a 20-drawer Alpha/character09 whose drawer 01 is `first` (a good PNG if None)."""
    return {f"{root}/Alpha/character09/0999_{drawer:02d}.png":
            first if drawer == 1 and first is not None else png_bytes()
            for drawer in range(1, 21)}


@pytest.mark.parametrize("alphabets, drawers, extra, message", [
    ({"Alpha": 2}, 20, {},
     "alphabet(s) ['Gamma'] (fetch.alphabets) not in the zip; available: ['Alpha']"),
    ({"Alpha": 2, "Gamma": 2}, 19, {},
     "Alpha/character01: expected drawers 01..20, found [1, 2,"),
    ({"Alpha": 2, "Gamma": 2}, 20, character(root="other_root"),
     "expected one top-level folder, found ['images_background', 'other_root']"),
    ({"Alpha": 2, "Gamma": 2}, 20, character(first=png_bytes(mode="L")),
     "images_background/Alpha/character09/0999_01.png: expected a 1-bit 105x105 PNG, "
     "found PNG mode 'L'"),
    ({"Alpha": 2, "Gamma": 2}, 20, character(first=b"not a png"),
     "images_background/Alpha/character09/0999_01.png: not a readable PNG"),
    ({"Alpha": 2, "Gamma": 2}, 20, {"images_background/Alpha/notes.txt": b"hi"},
     "entry 'images_background/Alpha/notes.txt': expected <root>/<Alphabet>/characterNN/"),
])
def test_bad_zips_name_the_problem(tmp_path, alphabets, drawers, extra, message):
    path = omniglot_zip(tmp_path / "o.zip", alphabets, drawers=drawers, extra=extra)
    with pytest.raises(OmniglotZipError) as error:
        build(path, ["Alpha", "Gamma"], test_characters=1)
    assert str(path) in str(error.value) and message in str(error.value)


def test_split_that_empties_a_class_or_takes_everything_is_refused(tmp_path):
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 1, "Beta": 1})
    with pytest.raises(OmniglotZipError, match=r"every character of \['(Alpha|Beta)'\] in test"):
        build(path, ["Alpha", "Beta"], test_characters=1)
    with pytest.raises(OmniglotZipError, match=r"test_characters: 2 is invalid; expected 1..1"):
        build(path, ["Alpha", "Beta"], test_characters=2)


def test_not_a_zip_names_the_file(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(OmniglotZipError, match=f"{path}: not a readable zip"):
        build(path, ["Alpha"])
