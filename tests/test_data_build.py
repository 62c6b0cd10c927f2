"""Building datasets from Omniglot zips: the course's Fall 2024 file, custom sets, splits."""
import json
import re

import numpy as np
import pytest

from pipeline.data.course_file import array_checksums, read_course_file
from pipeline.data.image_sets import (ImageRef, ImageSetError, custom_set, read_labels,
                                      read_manifest)
from pipeline.data.omniglot_zip import OmniglotZipError, read_images, zip_index
from pipeline.data.prepared import IMAGE_SIDE, PIXELS
from stages.fetch import FetchError, FetchPaths, fetch
from tests.conftest import ROOT, SHARED_COURSE, SYNTHETIC_ALPHABETS, require
from tests.data_helpers import (SMALL_ALPHABETS, SMALL_CHARACTERS, fetch_params, omniglot_zip,
                                png_bytes)

COURSE_SET = ROOT / "data/course_fall2024"


@pytest.fixture(scope="session")
def shared_course():
    """The team's record of the course's Fall 2024 file (manifest, checksums)."""
    require((SHARED_COURSE / "omniglot_12_fall2024.checksums.json").is_file(),
            f"{SHARED_COURSE}/omniglot_12_fall2024.checksums.json")
    return SHARED_COURSE


def build(zip_path, alphabets, split="character", test_characters=10, seed=0,
          test_drawings=4):
    """((train_x, train_y), (test_x, test_y)), refs: a custom set read from `zip_path`."""
    refs = custom_set(zip_index(zip_path), alphabets, split, test_drawings, test_characters,
                      seed)
    x, y = read_images(zip_path, refs)
    test = np.array([ref.split == "test" for ref in refs])
    return ((x[~test], y[~test]), (x[test], y[test])), refs


def paths(tmp_path, inbox):
    return FetchPaths(inbox, COURSE_SET, tmp_path / "downloads", tmp_path / "out.npz",
                      tmp_path / "source.json")


@pytest.fixture(scope="session")
def fall2024_build(shared_omniglot, tmp_path_factory):
    """fetch with the default params on the full background zip placed in an inbox."""
    base = tmp_path_factory.mktemp("fall2024")
    inbox = base / "inbox"
    inbox.mkdir()
    (inbox / "images_background.zip").write_bytes(
        (shared_omniglot / "images_background.zip").read_bytes())
    record = fetch(fetch_params(), paths(base, inbox))
    return record, read_course_file(base / "out.npz", 1 << 30), base


def test_default_build_is_the_courses_fall2024_file(fall2024_build, shared_course):
    record, arrays, _ = fall2024_build
    assert record["set"] == "fall2024" and record["counts"] == {"train": 6080, "test": 1520}
    assert arrays["trainX"].shape == (6080, PIXELS) and arrays["trainX"].dtype == np.bool_
    assert arrays["testY"].shape == (1520,) and arrays["testY"].dtype == np.int64
    assert record["class_names"] == read_labels(COURSE_SET / "labels.txt")
    # The checksums the team recorded from the course's own file, independent of our copy.
    expected = json.loads(
        (shared_course / "omniglot_12_fall2024.checksums.json").read_text())["arrays"]
    assert array_checksums(arrays) == {name: expected[name]["sha256"] for name in expected}


def test_project_copy_of_the_manifest_matches_the_teams_record(shared_course):
    for name in ("omniglot_12_fall2024.csv", "omniglot_12_fall2024.checksums.json"):
        assert (COURSE_SET / name).read_bytes() == (shared_course / name).read_bytes()


def test_fall2024_rebuild_is_byte_identical(fall2024_build, shared_omniglot, tmp_path):
    _, _, base = fall2024_build
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "images_background.zip").write_bytes(
        (shared_omniglot / "images_background.zip").read_bytes())
    fetch(fetch_params(), paths(tmp_path, inbox))
    assert (tmp_path / "out.npz").read_bytes() == (base / "out.npz").read_bytes()


def test_the_courses_npz_through_source_course_is_recognised(fall2024_build, tmp_path):
    _, arrays, base = fall2024_build
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # The course's own format, written by numpy itself rather than by our writer.
    np.savez(inbox / "omniglot_12.npz", **arrays)
    record = fetch(fetch_params(source="course"), paths(tmp_path, inbox))
    assert record["set"] == "fall2024"
    assert record["class_names"] == read_labels(COURSE_SET / "labels.txt")
    assert (tmp_path / "out.npz").read_bytes() == (base / "out.npz").read_bytes()


def test_a_zip_lacking_alphabets_of_the_manifest_names_them_and_the_expected_zip(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    omniglot_zip(inbox / "images_background.zip", {"Latin": 3, "Korean": 2})
    with pytest.raises(FetchError) as error:
        fetch(fetch_params(), paths(tmp_path, inbox))
    assert str(error.value) == (
        f"{inbox}/images_background.zip: lacks 11 of the 12 alphabets fetch.set fall2024 "
        f"needs (Greek, Anglo-Saxon_Futhorc, Alphabet_of_the_Magi, Futurama, Arcadian, ...); "
        f"it holds 2 alphabet(s): Korean, Latin; expected Omniglot's images_background.zip, "
        f"which holds the 30 background alphabets")
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "source.json").exists()


def test_a_zip_without_an_image_of_the_manifest_names_its_folder_not_a_made_up_file(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    labels = read_labels(COURSE_SET / "labels.txt")
    omniglot_zip(inbox / "images_background.zip", {name: 3 for name in labels})
    with pytest.raises(OmniglotZipError) as error:
        fetch(fetch_params(), paths(tmp_path, inbox))
    assert re.search(r"no image for (\S+)/character(\d\d) drawer \d\d "
                     r"\(the zip has no folder \1/character\2/\)$", str(error.value))
    assert "IIII" not in str(error.value)


@pytest.mark.parametrize("name, held", [
    ("images_background_small1.zip", "5 alphabet(s): Balinese, Early_Aramaic, Greek, "),
    ("images_evaluation.zip", "20 alphabet(s): Angelic, "),
])
def test_another_omniglot_zip_under_the_right_name_is_named_as_such(shared_omniglot, tmp_path,
                                                                   name, held):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "images_background.zip").write_bytes((shared_omniglot / name).read_bytes())
    with pytest.raises(FetchError, match=re.escape(held) + ".*; expected Omniglot's "
                                         "images_background.zip, which holds the 30 "):
        fetch(fetch_params(), paths(tmp_path, inbox))


@pytest.mark.parametrize("row, problem", [
    ("train,Latin,1", "3 fields"),
    ("valid,Latin,1,1", "'valid,Latin,1,1'"),
    ("train,Klingon,1,1", "'train,Klingon,1,1'"),
    ("train,Latin,x,1", "'train,Latin,x,1'"),
    ("test,Latin,1,21", "'test,Latin,1,21'"),
    ("train,Latin,²,1", "'train,Latin,²,1'"),
    ("train,Latin,1,٣", "'train,Latin,1,٣'"),
    ("train,Latin," + "1" * 5000 + ",1", "'train,Latin," + "1" * 105 + r"\.\.\.': expected"),
])
def test_a_malformed_manifest_row_names_its_line(tmp_path, row, problem):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"split,alphabet,character,drawer\ntrain,Latin,1,1\n{row}\n",
                        encoding="utf-8")
    with pytest.raises(ImageSetError, match=f"{manifest}:3: .*{problem}"):
        read_manifest(manifest, ["Latin", "Greek"])


def test_manifest_header_and_repeats(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("a,b,c,d\n")
    with pytest.raises(ImageSetError, match=f"{manifest}:1: expected the header"):
        read_manifest(manifest, ["Latin"])
    manifest.write_text("split,alphabet,character,drawer\ntrain,Latin,1,1\ntest,Latin,1,1\n")
    with pytest.raises(ImageSetError, match="1 image.s. listed more than once"):
        read_manifest(manifest, ["Latin"])


@pytest.fixture(scope="session", params=sorted(SMALL_ALPHABETS))
def small_build(request, shared_omniglot):
    """(zip name, zip path, custom build split by character, 20 test characters)."""
    name = request.param
    path = shared_omniglot / name
    return name, path, build(path, SMALL_ALPHABETS[name], test_characters=20)


def test_small_zip_counts_labels_and_split_by_character(small_build):
    name, _, (((train_x, train_y), (test_x, test_y)), refs) = small_build
    characters = SMALL_CHARACTERS[name]
    assert len(train_y) == 20 * (characters - 20) and len(test_y) == 20 * 20
    assert train_x.shape == (len(train_y), PIXELS)
    assert sorted(np.unique(train_y).tolist()) == list(range(5))
    test_characters = {(r.alphabet, r.character) for r in refs if r.split == "test"}
    train_characters = {(r.alphabet, r.character) for r in refs if r.split == "train"}
    assert len(test_characters) == 20 and not test_characters & train_characters
    for y in (train_y, test_y):
        assert np.all(np.diff(y) >= 0)
    assert set(np.unique(np.concatenate([train_x, test_x])).tolist()) == {0, 1}


def test_split_by_drawing_puts_every_character_on_both_sides(synthetic_omniglot):
    alphabets = list(SYNTHETIC_ALPHABETS)
    (_, _), refs = build(synthetic_omniglot, alphabets, split="drawing", test_drawings=4)
    per_character = {}
    for ref in refs:
        per_character.setdefault((ref.alphabet, ref.character), []).append(ref.split)
    assert len(per_character) == sum(SYNTHETIC_ALPHABETS.values())
    assert all(sides.count("test") == 4 and sides.count("train") == 16
               for sides in per_character.values())
    (_, _), again = build(synthetic_omniglot, alphabets, split="drawing", test_drawings=4)
    (_, _), other = build(synthetic_omniglot, alphabets, split="drawing", seed=1)
    assert again == refs and other != refs


def test_split_seed_chooses_other_characters(small_build):
    _, path, (_, refs) = small_build
    _, other = build(path, SMALL_ALPHABETS[path.name], test_characters=20, seed=1)
    def tested(found):
        return {(r.alphabet, r.character) for r in found if r.split == "test"}
    assert tested(other) != tested(refs) and len(tested(other)) == 20


def test_labels_follow_the_alphabet_list_and_drawings_stay_together(tmp_path):
    # Each synthetic drawing has its ink dot at (character code, drawer).
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 3, "Beta": 4})
    ((x, y), (test_x, test_y)), _ = build(path, ["Beta", "Alpha"], test_characters=2)
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
    (train, test), _ = build(path, ["Alpha", "Beta"], test_characters=1)
    assert len(train[1]) + len(test[1]) == 80


def character(root="images_background", first=None):
    """Entries of a 20-drawer Alpha/character09 whose drawer 01 is `first` (a good PNG if None)."""
    return {f"{root}/Alpha/character09/0999_{drawer:02d}.png":
            first if drawer == 1 and first is not None else png_bytes()
            for drawer in range(1, 21)}


@pytest.mark.parametrize("alphabets, drawers, extra, message", [
    ({"Alpha": 2, "Gamma": 2}, 19, {},
     "no image for Alpha/character01 drawer 20 (Alpha/character01/ holds no *_20.png)"),
    ({"Alpha": 2, "Gamma": 2}, 20, character(root="other_root"),
     "expected one top-level folder, found ['images_background', 'other_root']"),
    ({"Alpha": 2, "Gamma": 2}, 20, character(first=png_bytes(mode="L")),
     "images_background/Alpha/character09/0999_01.png: expected a 1-bit 105x105 PNG as in "
     "the Omniglot release, found PNG mode 'L'"),
    ({"Alpha": 2, "Gamma": 2}, 20, character(first=b"not a png"),
     "images_background/Alpha/character09/0999_01.png: not a readable PNG"),
    ({"Alpha": 2, "Gamma": 2}, 20, {"images_background/Alpha/notes.txt": b"hi"},
     "entry 'images_background/Alpha/notes.txt': expected <root>/<Alphabet>/characterNN/"),
    # Past int()'s 4300-digit limit, which would end in a traceback.
    ({"Alpha": 2, "Gamma": 2}, 20, {f"images_background/Alpha/character{'1' * 5000}/"
                                    f"0001_01.png": png_bytes()},
     "expected <root>/<Alphabet>/characterNN/IIII_DD.png"),
    ({"Alpha": 2, "Gamma": 2}, 20, {"images_background/Alpha/character01/"
                                    "\u0661\u0662\u0663_01.png": png_bytes()},
     "expected <root>/<Alphabet>/characterNN/IIII_DD.png"),
])
def test_bad_zips_name_the_problem(tmp_path, alphabets, drawers, extra, message):
    path = omniglot_zip(tmp_path / "o.zip", alphabets, drawers=drawers, extra=extra)
    with pytest.raises(OmniglotZipError) as error:
        build(path, ["Alpha", "Gamma"], test_characters=1)
    assert str(path) in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("ref, missing", [
    (ImageRef("train", 0, "Gamma", 1, 1), "the zip has no folder Gamma/"),
    (ImageRef("train", 0, "Alpha", 3, 1), "the zip has no folder Alpha/character03/"),
])
def test_reading_an_image_the_zip_lacks_names_the_missing_folder(tmp_path, ref, missing):
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 2})
    with pytest.raises(OmniglotZipError) as error:
        read_images(path, [ref])
    assert str(error.value) == f"{path}: no image for {ref.name} ({missing})"


def test_an_alphabet_missing_from_the_zip_is_named(tmp_path):
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 2})
    with pytest.raises(ImageSetError, match=r"\['Gamma'\] \(fetch.alphabets\) not in the zip; "
                                            r"available: \['Alpha'\]"):
        build(path, ["Alpha", "Gamma"], test_characters=1)


def test_split_that_empties_a_class_or_takes_everything_is_refused(tmp_path):
    path = omniglot_zip(tmp_path / "o.zip", {"Alpha": 1, "Beta": 1})
    with pytest.raises(ImageSetError, match=r"every character of \['(Alpha|Beta)'\] in test"):
        build(path, ["Alpha", "Beta"], test_characters=1)
    with pytest.raises(ImageSetError, match=r"test_characters: 2 is invalid; expected 1..1"):
        build(path, ["Alpha", "Beta"], test_characters=2)


def test_not_a_zip_names_the_file(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(OmniglotZipError, match=f"{path}: not a readable zip"):
        zip_index(path)
